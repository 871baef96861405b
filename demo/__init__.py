"""`make demo`: the retail case of seed 000 as a month of traffic through the real collector and processor."""
