"""anshin-ops operator tools on the controller (the CLI grows here; see README "Where things live")."""
