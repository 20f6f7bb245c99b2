"""Runs SQL queries with pyheavydb's own client (heavydb.connect + cursor) and prints the
answers as JSON, for comparison with the Rust client's: one object per query, `names` and
`rows` (ints and floats as JSON numbers, floats exactly, dates and timestamps as str(), NULL as
null) or `error` (the exception class and message).

usage: HOP_HEAVYDB_PEER_PASSWORD=.. python pyheavydb_answers.py PORT USER DBNAME < queries.json
"""
import json
import os
import sys

import heavydb


def cell(v):
    if v is None or isinstance(v, (int, float, str)):
        return int(v) if isinstance(v, bool) else v
    return str(v)


def main():
    port, user, dbname = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    con = heavydb.connect(user=user, password=os.environ["HOP_HEAVYDB_PEER_PASSWORD"],
                          host="127.0.0.1", port=port, dbname=dbname)
    answers = []
    for query in json.load(sys.stdin):
        cur = con.cursor()
        try:
            cur.execute(query)
            names = [d[0] for d in cur.description or []]
            rows = [[cell(v) for v in row] for row in (cur.fetchall() if names else [])]
            answers.append({"names": names, "rows": rows})
        except heavydb.Error as e:
            answers.append({"error": f"{type(e).__name__}: {e}"})
    con.close()
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
