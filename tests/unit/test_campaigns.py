"""Campaigns: what each dialing mode does, the state machine, sorting and settings (no
database)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import ValidationError

from callhopper.domain.campaigns import (
    ACTIVE_STATES,
    PUSH_MODES,
    SUPPORTED_MODES,
    CampaignAction,
    CampaignSettings,
    CampaignState,
    DialingMode,
    MachineAction,
    SortKey,
    check_sort,
    sort_is_numeric,
    transition,
)
from callhopper.domain.contacts import ColumnSpec, FieldType, ListSchema, PhoneColumnSpec
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.domain.hopper import HARD_CAP_PER_AGENT, SecondaryOrder

# mode: (preview-type, pushed, dials by itself, pushed to ready agents, accepting dials, delivery)
MODES = {
    DialingMode.PREVIEW: (True, False, False, False, False, "manual"),
    DialingMode.PUSH_PREVIEW: (True, True, False, True, False, "automatic"),
    DialingMode.DIRECT_PUSH_PREVIEW: (True, True, False, False, True, "automatic"),
    DialingMode.PROGRESSIVE: (False, False, True, False, False, "automatic"),
    DialingMode.PREDICTIVE: (False, False, True, False, False, "automatic"),
}


@pytest.mark.parametrize("mode", list(DialingMode))
def test_a_dialing_mode_answers_what_it_does(mode: DialingMode) -> None:
    assert (
        mode.is_preview_type,
        mode.is_pushed,
        mode.dials_by_itself,
        mode.pushes_to_ready_agents,
        mode.dials_on_accept,
        mode.delivery,
    ) == MODES[mode]


@pytest.mark.parametrize("mode", list(DialingMode))
def test_a_record_is_pulled_pushed_or_dialled_by_the_system(mode: DialingMode) -> None:
    pulled = mode is DialingMode.PREVIEW
    assert [pulled, mode.is_pushed, mode.dials_by_itself].count(True) == 1
    assert mode.pushes_to_ready_agents + mode.dials_on_accept == mode.is_pushed


def test_the_mode_sets() -> None:
    assert {DialingMode.PUSH_PREVIEW, DialingMode.DIRECT_PUSH_PREVIEW} == PUSH_MODES
    assert "push_preview" in PUSH_MODES  # as stored
    assert set(DialingMode) == SUPPORTED_MODES
    assert {CampaignState.ON, CampaignState.STOPPING} == ACTIVE_STATES
    assert [s for s in CampaignState if s.is_active] == [CampaignState.ON, CampaignState.STOPPING]


def test_an_action_the_state_forbids_names_the_allowed_ones() -> None:
    with pytest.raises(Conflict, match="a campaign that is off cannot stop; it can start") as err:
        transition(CampaignState.OFF, CampaignAction.STOP)
    assert err.value.details == {"state": "off"}
    with pytest.raises(Conflict, match="a campaign that is stopping cannot start; it can recycle"):
        transition(CampaignState.STOPPING, CampaignAction.START)


class CampaignLife(RuleBasedStateMachine):
    """A campaign driven by any sequence of actions, beside the rules said in words: start
    from off or complete; stop a running campaign, which then stops once its last lease
    ends; recycle a campaign that has started, without changing its state."""

    def __init__(self) -> None:
        super().__init__()
        self.state = CampaignState.OFF
        self.started = False

    @rule(action=st.sampled_from(CampaignAction))
    def act(self, action: CampaignAction) -> None:
        allowed = {
            CampaignAction.START: self.state in (CampaignState.OFF, CampaignState.COMPLETE),
            CampaignAction.STOP: self.state is CampaignState.ON,
            CampaignAction.RECYCLE: self.started,
        }[action]
        if not allowed:
            with pytest.raises(Conflict):
                transition(self.state, action)
            return
        after = transition(self.state, action)
        if action is CampaignAction.START:
            assert after is CampaignState.ON
            self.started = True
        elif action is CampaignAction.STOP:
            assert after is CampaignState.STOPPING
        else:
            assert after is self.state
        self.state = after

    @precondition(lambda self: self.state is CampaignState.STOPPING)
    @rule()
    def last_lease_ends(self) -> None:
        self.state = CampaignState.COMPLETE  # done by the store, outside the table

    @invariant()
    def off_only_until_started(self) -> None:
        assert (self.state is CampaignState.OFF) is not self.started


TestCampaignLife = CampaignLife.TestCase


def list_schema(agent_owned: bool = False) -> ListSchema:
    return ListSchema(
        columns=(
            ColumnSpec(name="phone"),
            ColumnSpec(name="owner"),
            ColumnSpec(name="amount", type=FieldType.NUMBER),
            ColumnSpec(name="name"),
        ),
        phone_columns=(PhoneColumnSpec(column="phone"),),
        agent_owned_column="owner" if agent_owned else None,
    )


def test_contacts_sort_by_columns_of_the_list_each_named_once() -> None:
    schema = list_schema(agent_owned=True)
    check_sort((SortKey(column="amount", descending=True), SortKey(column="name")), schema, None)
    for sort, message in [
        ((SortKey(column="age"),), "'age' is not a column of the list"),
        ((SortKey(column="owner"),), "cannot be sorted by the agent-owned column 'owner'"),
        ((SortKey(column="name"), SortKey(column="name")), "'name' is named twice"),
    ]:
        with pytest.raises(InvalidInput, match=message) as err:
            check_sort(sort, schema, "owner")
        assert err.value.details == {"field": "sort"}
    assert sort_is_numeric(schema, "amount")
    assert not sort_is_numeric(schema, "name")
    assert not sort_is_numeric(schema, "age")


def test_caller_ids_are_international_numbers_and_the_default_is_one_of_them() -> None:
    settings = CampaignSettings(
        caller_ids=("+1 602 234 5678", "+16022345678", "+44 20 7946 0958"),
        default_caller_id="+44 20 7946 0958",
    )
    assert settings.caller_ids == ("+16022345678", "+442079460958")
    assert settings.caller_id(None) == "+442079460958"
    assert settings.caller_id("+1 (602) 234-5678") == "+16022345678"
    with pytest.raises(InvalidInput, match="is not a caller ID of this campaign"):
        settings.caller_id("+12125550123")
    with pytest.raises(InvalidInput, match="international form"):
        settings.caller_id("602 234 5678")
    assert CampaignSettings(caller_ids=("+16022345678",)).caller_id(None) == "+16022345678"
    assert CampaignSettings().caller_id(None) is None
    with pytest.raises(ValidationError, match="international form"):
        CampaignSettings(caller_ids=("6022345678",))
    with pytest.raises(ValidationError, match="is not one of caller_ids"):
        CampaignSettings(caller_ids=("+16022345678",), default_caller_id="+442079460958")


def test_reinserted_skips_force_fifo_with_a_notice() -> None:
    lifo = CampaignSettings(reinsert_skipped=True, secondary_order=SecondaryOrder.LIFO)
    forced, notices = lifo.with_forced_fifo()
    assert forced.secondary_order is SecondaryOrder.FIFO
    assert notices and "secondary_order set to fifo" in notices[0]
    kept = CampaignSettings(secondary_order=SecondaryOrder.LIFO)
    assert kept.with_forced_fifo() == (kept, [])


def test_the_default_lead_filter_is_kept_in_canonical_form() -> None:
    assert CampaignSettings(default_lead_filter="state=='AZ'").default_lead_filter == (
        'state == "AZ"'
    )
    assert CampaignSettings(default_lead_filter="  ").default_lead_filter is None
    with pytest.raises(InvalidInput, match="unknown record property @colour"):
        CampaignSettings(default_lead_filter='@colour == "red"')


def test_the_hopper_level_is_at_most_the_hard_cap() -> None:
    assert CampaignSettings(hopper_level=HARD_CAP_PER_AGENT).hopper_level == HARD_CAP_PER_AGENT
    with pytest.raises(ValidationError):
        CampaignSettings(hopper_level=HARD_CAP_PER_AGENT + 1)


def test_the_settings_of_automatic_modes() -> None:
    settings = CampaignSettings(caller_ids=("+14155550100",))
    assert (settings.ring_timeout_s, settings.abandon_target) == (25, 0.03)
    assert settings.machine_action is MachineAction.HANG_UP
    with pytest.raises(ValueError, match="ring_timeout_s"):
        CampaignSettings(ring_timeout_s=14)
    with pytest.raises(ValueError, match="abandon_target"):
        CampaignSettings(abandon_target=0.5)
    with pytest.raises(ValueError, match="machine_message"):
        CampaignSettings(machine_action=MachineAction.MESSAGE)
    assert CampaignSettings(
        machine_action="message", machine_message=" vm.wav "
    ).machine_message == ("vm.wav")
    settings.check_for(DialingMode.PREVIEW)
    CampaignSettings().check_for(DialingMode.PREVIEW)
    with pytest.raises(InvalidInput, match="caller ID"):
        CampaignSettings().check_for(DialingMode.PROGRESSIVE)


@pytest.mark.parametrize("mode", list(DialingMode))
def test_only_predictive_dials_ahead_of_its_agents(mode: DialingMode) -> None:
    assert mode.dials_ahead is (mode is DialingMode.PREDICTIVE)
    assert mode.serves_owners is not mode.dials_ahead
