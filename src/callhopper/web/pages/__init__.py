"""The pages' routes: ``signin`` (sign-in, sign-out, start page, language), ``workspace``
(the agent workspace and the actions on a campaign) and ``records`` (the actions on a
delivered record). ``common`` holds what they share."""
