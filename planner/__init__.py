"""East-West compute planner."""
