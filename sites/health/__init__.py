"""Camera health checks: the address policy, the probe ladder and a simulated fleet."""
