"""HRL-Rec and the CTR baselines, in PyTorch."""
