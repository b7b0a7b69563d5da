"""Independent numpy re-creation of the synthetic data stream (draw order of the paper's bandit script).

Usage: python3 numpy_reference.py SEED SETTING   (SETTING: uneven-imbalanced | even-imbalanced | uneven-balanced)
Prints JSON: the first draws of the seeded legacy RandomState, the three data splits and theta0.
"""
import json
import sys

import numpy as np

ACTIONS = 8
THETA_STAR = np.array([[1, 3, 1, 3], [3, 1, 3, 1]], np.float32)


def feature(state, action, group):
    u = action / ACTIONS + 1
    f = np.zeros(4)
    for c in range(2):
        big, small = u * np.cos(state[c] * np.pi), np.sin(state[c] * np.pi) / u
        if group % 2 == 0:
            f[2 * c], f[2 * c + 1] = big, small
        else:
            f[2 * c], f[2 * c + 1] = small, big
    return f


def reward(state, action, group):
    return float(np.dot(feature(state, action, group), THETA_STAR[group]))


def collect(num, weights, uneven, epsilon_draw):
    counts = np.round(np.array(weights) * num).astype(int)
    ids = [g for g, c in enumerate(counts) for _ in range(c)]
    np.random.shuffle(ids)
    ids = ids[:num]
    uniform = np.full(ACTIONS, 1.0 / ACTIONS)
    pairs = []
    for i in range(num):
        state = np.random.uniform(0, 1, 2)
        g = ids[i]
        if uneven:
            a1 = int(np.random.choice(a=ACTIONS, size=1, replace=False, p=uniform)[0])
            if g % 2 == 0:
                a2 = a1 + 2 * int(np.random.choice(a=2, size=1, replace=False, p=[0.5, 0.5])[0]) - 1
                if a2 >= ACTIONS:
                    a2 = a1 - 1
                elif a2 < 0:
                    a2 = a1 + 1
            else:
                a2 = (a1 + ACTIONS // 2) % ACTIONS
        else:
            a = np.random.choice(a=ACTIONS, size=2, replace=False, p=uniform)
            a1, a2 = int(a[0]), int(a[1])
        if epsilon_draw:
            np.random.uniform(0, 1)
        pref = 0 if reward(state, a1, g) > reward(state, a2, g) else 1
        pairs.append([state[0], state[1], g, a1, a2, pref])
    return pairs


def main():
    seed, setting = int(sys.argv[1]), sys.argv[2]
    np.random.seed(seed)
    first = np.random.uniform(0, 1, 5).tolist()
    np.random.seed(seed)
    uneven = setting.startswith("uneven")
    share = 0.5 if setting.endswith("balanced") and not setting.endswith("imbalanced") else 0.2
    np.random.uniform(0, 1, 2)                      # environment's initial state
    train = collect(300, [share, 1 - share], uneven, uneven)
    test = collect(1000, [0.5, 0.5], False, False)
    val = collect(1000, [0.5, 0.5], uneven, True)
    np.random.standard_normal(4)                    # reward-learning initialisation
    np.random.uniform(0, 1, 2)                      # second environment's initial state
    theta0 = np.random.uniform(0, 5, 4).tolist()
    print(json.dumps({"first": first, "train": train, "test": test, "val": val, "theta0": theta0}))


main()
