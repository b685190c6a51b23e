"""How a model is judged beyond its AUC: the true value of its served lists (simulated days)."""
