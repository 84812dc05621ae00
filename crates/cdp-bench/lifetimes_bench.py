"""Times the same BG/NBD + Gamma-Gamma fit and scoring with Python's `lifetimes`,
for cdp-bench's comparison. Usage: python lifetimes_bench.py DATA.csv HORIZON REPEAT
DATA.csv has columns frequency, recency, T (in weeks), monetary_value (0 for non-repeaters);
HORIZON is E[Y]'s horizon in weeks; the CLV is over 12 months of 4.345 weeks (lifetimes'
"W"), discounted 1% a month.
Prints one JSON line: the best of REPEAT runs' seconds for fit and for scoring, the fitted parameters and the
sum over customers of E[Y] + P(alive) + E[M] + CLV (cdp-bench prints the same sum)."""
import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import _customer_lifetime_value

df = pd.read_csv(sys.argv[1])
horizon = float(sys.argv[2])
repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1


def run():
    t0 = time.perf_counter()
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(df["frequency"], df["recency"], df["T"])
    repeat_buyers = df[df["frequency"] > 0]
    gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat_buyers["frequency"], repeat_buyers["monetary_value"])
    t1 = time.perf_counter()
    p_alive = bg.conditional_probability_alive(df["frequency"], df["recency"], df["T"])
    expected = bg.conditional_expected_number_of_purchases_up_to_time(horizon, df["frequency"], df["recency"], df["T"])
    m = df["monetary_value"].where(df["frequency"] > 0, 1.0)
    value = gg.conditional_expected_average_profit(df["frequency"], m)
    # What GammaGammaFitter.customer_lifetime_value does, without computing E[M] a second time.
    clv = _customer_lifetime_value(bg, df["frequency"], df["recency"], df["T"], value, time=12, discount_rate=0.01, freq="W")
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, bg, gg, float(expected.sum() + p_alive.sum() + value.sum() + clv.sum())


runs = [run() for _ in range(max(1, repeat))]
_, _, bg, gg, checksum = runs[-1]
print(json.dumps({"fit_s": min(r[0] for r in runs), "score_s": min(r[1] for r in runs),
                  "bg": {k: float(v) for k, v in bg.params_.items()},
                  "gg": {k: float(v) for k, v in gg.params_.items()}, "checksum": checksum}))
