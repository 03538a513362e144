"""tau-trait (tau-bench v1 runtime with user traits): telecom, telehealth, retail, airline.

Behaviour follows collinear-ai/tau-trait and sierra-research/tau-bench (MIT).
"""
