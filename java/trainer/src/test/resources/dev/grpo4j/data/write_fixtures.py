"""Writes the preference data files the data readers are tested on, with Hugging Face datasets' own exporters
(Dataset.to_json, to_csv, to_parquet), so the files are what a user of that library has.

    python3 -m venv venv && venv/bin/pip install datasets==5.0.1 pyarrow==25.0.1
    venv/bin/python write_fixtures.py      # run in this folder
"""
import pyarrow.parquet as pq
from datasets import Dataset

STANDARD = [
    {"prompt": "Is tea healthy?", "chosen": "In moderation, yes.", "rejected": "No.", "country": "UK", "id": 1},
    {"prompt": "Café or tea?", "chosen": "Tea, \"green\".", "rejected": "Neither,\nreally.", "country": "DE", "id": 2},
    {"prompt": "Best month?", "chosen": "May.", "rejected": "None.", "country": "UK", "id": 3},
]

CONVERSATIONAL = [
    {"prompt": [{"role": "user", "content": "Is tea healthy?"}],
     "chosen": [{"role": "assistant", "content": "In moderation, yes."}],
     "rejected": [{"role": "assistant", "content": "No."}], "country": "UK"},
    {"prompt": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Café or tea?"}],
     "chosen": [{"role": "assistant", "content": "Tea."}],
     "rejected": [{"role": "assistant", "content": "Neither,\nreally."}], "country": "DE"},
]

IMPLICIT = [
    {"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
     "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}]},
    {"chosen": [{"role": "user", "content": "Tea?"}, {"role": "assistant", "content": "Yes."},
                {"role": "user", "content": "Milk?"}, {"role": "assistant", "content": "A little."}],
     "rejected": [{"role": "user", "content": "Tea?"}, {"role": "assistant", "content": "Yes."},
                  {"role": "user", "content": "Milk?"}, {"role": "assistant", "content": "Lots."}]},
]


def export(records, name):
    data = Dataset.from_list(records)
    data.to_json(name + ".jsonl")
    data.to_json(name + ".json", lines=False)
    data.to_csv(name + ".csv", index=False)
    data.to_parquet(name + ".parquet")


export(STANDARD, "standard")
export(CONVERSATIONAL, "conversational")
export(IMPLICIT, "implicit")
pq.write_table(Dataset.from_list(CONVERSATIONAL).data.table, "conversational-zstd.parquet", compression="zstd")
pq.write_table(Dataset.from_list(STANDARD).data.table, "standard-gzip.parquet", compression="gzip")
pq.write_table(Dataset.from_list(STANDARD).data.table, "standard-brotli.parquet", compression="brotli")
# Row 2 has no rejected response: the reader must name the file and row.
Dataset.from_list([STANDARD[0], {**STANDARD[1], "rejected": None}, STANDARD[2]]).to_parquet("missing-rejected.parquet")
