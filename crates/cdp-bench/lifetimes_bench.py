"""Times the same BG/NBD + Gamma-Gamma fit and scoring with Python's `lifetimes`,
for cdp-bench's comparison. Usage: python lifetimes_bench.py DATA.csv HORIZON
DATA.csv has columns frequency, recency, T, monetary_value (0 for non-repeaters).
Prints one JSON line: seconds for fit and for scoring, and the fitted parameters."""
import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

df = pd.read_csv(sys.argv[1])
horizon = float(sys.argv[2])
t0 = time.perf_counter()
bg = BetaGeoFitter(penalizer_coef=0.0).fit(df["frequency"], df["recency"], df["T"])
repeat = df[df["frequency"] > 0]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
t1 = time.perf_counter()
p_alive = bg.conditional_probability_alive(df["frequency"], df["recency"], df["T"])
expected = bg.conditional_expected_number_of_purchases_up_to_time(horizon, df["frequency"], df["recency"], df["T"])
value = gg.conditional_expected_average_profit(df["frequency"], df["monetary_value"].where(df["frequency"] > 0, 1.0))
t2 = time.perf_counter()
print(json.dumps({"fit_s": t1 - t0, "score_s": t2 - t1, "bg": {k: float(v) for k, v in bg.params_.items()},
                  "gg": {k: float(v) for k, v in gg.params_.items()}, "checksum": float(expected.sum() + p_alive.sum() + value.sum())}))
