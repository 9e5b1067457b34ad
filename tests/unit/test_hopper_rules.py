"""The pure rules of a hopper load: quotas in chunks of the level, the hard cap per agent,
general leads shared by agents with the same skills (no database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from callhopper.domain.filters import parse_filter
from callhopper.domain.hopper import (
    HARD_CAP_PER_AGENT,
    MATCH_ALL,
    agent_filter,
    general_quota,
    general_share,
    group_key,
    owned_quota,
    owned_quotas,
    plan_groups,
)

CAP = HARD_CAP_PER_AGENT
levels = st.integers(1, CAP)
counts = st.integers(0, 3 * CAP)


@dataclass
class Group:
    """One group of agents with the same skills: each one's owned leads in the hopper, and
    the general leads they share."""

    owned: list[int]
    general: int = 0
    added: list[int] = field(default_factory=list)

    def load(self, level: int) -> None:
        """What a load does for the group (``store.hopper.load`` with one group and enough
        leads in the list): owned leads first, then general leads."""
        quotas = owned_quotas(level, self.owned, self.general)
        self.owned = [o + q for o, q in zip(self.owned, quotas, strict=True)]
        general = general_quota(level, len(self.owned), self.general, self.owned)
        self.general += general
        self.added = [*quotas, general]

    @property
    def total(self) -> int:
        """The group's leads in the hopper, an agent's owned ones counted up to the cap (more
        come only from direct inserts, and take no room from the others)."""
        return sum(min(o, CAP) for o in self.owned) + self.general


def test_one_agent_at_level_50_gets_50_owned_and_50_general_leads() -> None:
    group = Group(owned=[0])
    group.load(50)
    assert (group.owned, group.general) == ([50], 50)


def test_a_load_adds_in_chunks_of_the_level() -> None:
    group = Group(owned=[99], general=99)
    group.load(100)
    assert group.added == [100, 100]
    assert group.total == 398


def test_agents_at_level_get_nothing() -> None:
    group = Group(owned=[100], general=100)
    group.load(100)
    assert group.added == [0, 0]


def test_two_agents_with_the_same_skills_share_twice_the_level_of_general_leads() -> None:
    group = Group(owned=[0, 0])
    group.load(100)
    assert group.general == 200


def test_the_hard_cap_counts_owned_and_general_leads_together() -> None:
    group = Group(owned=[950], general=0)
    group.load(1000)
    assert group.owned == [1000]
    assert group.general == 0  # no room left for general leads
    group = Group(owned=[0], general=960)
    group.load(100)
    assert group.owned == [40]  # the general leads already in take room from owned ones


@given(level=levels, in_hopper=counts, share=counts)
def test_owned_quota_tops_up_by_the_level_within_the_cap(
    level: int, in_hopper: int, share: int
) -> None:
    quota = owned_quota(level, in_hopper, share)
    assert 0 <= quota <= level
    if in_hopper >= level:
        assert quota == 0
    if quota:
        assert in_hopper + share + quota <= CAP
    else:
        assert in_hopper >= level or in_hopper + share >= CAP


@given(level=levels, in_hopper=counts, owned=st.lists(counts, min_size=1, max_size=20))
def test_general_quota_tops_up_the_group_within_the_agents_caps(
    level: int, in_hopper: int, owned: list[int]
) -> None:
    agents = len(owned)
    quota = general_quota(level, agents, in_hopper, owned)
    assert 0 <= quota <= level * agents
    if in_hopper >= level * agents:
        assert quota == 0
    if quota:
        assert in_hopper + quota + sum(min(o, CAP) for o in owned) <= agents * CAP


def test_a_group_without_agents_gets_no_general_leads() -> None:
    assert general_quota(100, 0, 0, []) == 0
    assert general_share(50, 0) == 0


@given(in_hopper=counts, agents=st.integers(1, 50))
def test_general_share_is_the_even_share_rounded_up(in_hopper: int, agents: int) -> None:
    share = general_share(in_hopper, agents)
    assert share * agents >= in_hopper > (share - 1) * agents


@given(
    agents=st.integers(1, 8),
    steps=st.lists(
        st.tuples(levels, st.lists(st.floats(0, 1), min_size=9, max_size=9)), max_size=12
    ),
)
def test_loads_never_put_more_than_the_hard_cap_per_agent_in_the_hopper(
    agents: int, steps: list[tuple[int, list[float]]]
) -> None:
    """Loads at any level, with agents working off any part of their leads in between:
    the group's leads never pass the cap times its agents, nor anyone's owned leads the cap."""
    group = Group(owned=[0] * agents)
    for level, worked in steps:
        group.load(level)
        assert all(o <= CAP for o in group.owned)
        assert group.total <= CAP * agents
        group.owned = [int(o * (1 - w)) for o, w in zip(group.owned, worked, strict=False)]
        group.general = int(group.general * (1 - worked[-1]))


@given(owned=st.lists(counts, min_size=1, max_size=8), general=counts, level=levels)
def test_a_load_never_adds_to_a_hopper_over_the_cap(
    owned: list[int], general: int, level: int
) -> None:
    """Agents who left (their owned leads go) or direct inserts may leave more than the cap
    in the hopper: a load then adds nothing that would keep it there."""
    group = Group(owned=list(owned), general=general)
    before = group.total
    group.load(level)
    assert group.total <= max(before, CAP * len(owned))


def test_an_agent_filter_is_their_skills_or_the_default() -> None:
    az, ca = parse_filter('state == "AZ"'), parse_filter('state == "CA" and age >= 21')
    default = parse_filter("vip == 1")
    combined = agent_filter([az, ca], default)
    assert combined is not None
    assert combined.to_text() == 'state == "AZ" or (state == "CA" and age >= 21)'
    assert agent_filter([], default) == default
    assert agent_filter([], None) is None


def test_agents_with_the_same_skills_share_one_group() -> None:
    az, ca = parse_filter('state == "AZ"'), parse_filter('state == "CA"')
    groups = plan_groups(
        {
            3: agent_filter([az, ca], None),
            1: agent_filter([ca, az], None),  # the same skills, in another order
            2: agent_filter([az], None),
            4: None,
            5: None,
        }
    )
    by_agents = {g.agents: g.key for g in groups}
    assert set(by_agents) == {(1, 3), (2,), (4, 5)}
    assert by_agents[(4, 5)] == MATCH_ALL
    assert len(set(by_agents.values())) == 3
    assert [g.key for g in groups] == sorted(by_agents.values())  # a stable order


def test_the_group_key_names_the_filter_whatever_the_order_of_its_groups() -> None:
    one = parse_filter('state == "AZ" or state == "CA" or state == "AZ"')
    other = parse_filter('state == "CA" or state == "AZ"')
    assert group_key(one) == group_key(other) != group_key(parse_filter('state == "CA"'))
    assert group_key(None) == MATCH_ALL


def test_an_agent_over_their_even_share_takes_room_from_the_others() -> None:
    """Alice owns 501 leads and her half of the 1,002 general ones makes 1,002: Bob's room
    within his own cap (140) is more than the group's (138)."""
    assert owned_quotas(360, [501, 359], 1002) == [0, 138]
    assert owned_quota(360, 359, general_share(1002, 2)) == 140


def test_leads_every_agent_shares_count_for_each_agent_of_a_group() -> None:
    assert owned_quotas(100, [0, 0], 0, extra=950) == [50, 50]
    assert owned_quotas(100, [0, 0], 80, extra=950) == [10, 10]
    assert owned_quotas(100, [0], 0, extra=1000) == [0]
