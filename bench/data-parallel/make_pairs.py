"""Writes the timing runs' training data: 800 pairs of 4 groups, 40-160 bytes of prompt and response each, the same
text on every run (seeded).  Usage: python3 make_pairs.py OUT.jsonl"""
import json
import random
import sys

random.seed(7)
words = "tea coffee water milk bread rice apple fish soup salt sugar rain sun wind snow city road river hill".split()
with open(sys.argv[1], "w") as f:
    for i in range(800):
        text = lambda n: " ".join(random.choice(words) for _ in range(n))
        f.write(json.dumps({"prompt": text(random.randint(8, 30)), "chosen": text(random.randint(8, 30)),
                            "rejected": text(random.randint(8, 30)), "group": i % 4}) + "\n")
