"""The Ask tab: the question box, modes and scope, the ask flow, the answer card, passages, citation chips."""
