"""HeavyDB conformance peer: pyheavydb's own generated Thrift processor (`heavydb.thrift.Heavy`)
over the same transport stack as a real HeavyDB on port 6274 (TCP, buffered transport, binary
protocol), executing the SQL on DuckDB. It speaks the real wire protocol, not HeavyDB's SQL
dialect: it is a protocol-conformance peer, not a behavioural oracle.

Implements connect, disconnect, get_version, sql_execute (columnar and row results, nulls,
first_n/at_most_n) and load_table_binary_columnar. Binds 127.0.0.1 (port 0 by default) and
prints `HEAVYDB_PEER_PORT=<port>` once it listens. The password of `--user` comes from
$HOP_HEAVYDB_PEER_PASSWORD. `--session-calls N` expires a session after N sql_execute calls
(a server-side session timeout). SQL can call `peer_sleep(seconds)` (a DuckDB UDF) to be slow.
"""
import argparse
import datetime
import os
import sys
import threading
import time
import uuid

import duckdb
import numpy
from thrift.protocol import TBinaryProtocol
from thrift.server import TServer
from thrift.transport import TSocket, TTransport
from heavydb.thrift import Heavy
from heavydb.thrift.ttypes import (TDBException, TQueryResult, TRowSet, TColumnType, TColumn,
                                   TColumnData, TRow, TDatum, TDatumVal, TQueryType)
from heavydb.common.ttypes import TTypeInfo, TDatumType, TEncodingType

VERSION = "8.0.1-peer-duckdb"
EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH = datetime.datetime(1970, 1, 1)
PLACEHOLDER = {"int_col": 0, "real_col": 0.0, "str_col": ""}


def heavy_type(duck_type):
    """(TDatumType, TColumnData list, precision, scale, encoding) of a DuckDB result type, the
    way the real server fills TColumnData (DBHandler::value_to_thrift_column)."""
    t = str(duck_type).upper()
    if t == "BOOLEAN": return TDatumType.BOOL, "int_col", 0, 0, TEncodingType.NONE
    if t in ("TINYINT", "UTINYINT"): return TDatumType.TINYINT, "int_col", 0, 0, TEncodingType.NONE
    if t in ("SMALLINT", "USMALLINT"): return TDatumType.SMALLINT, "int_col", 0, 0, TEncodingType.NONE
    if t in ("INTEGER", "UINTEGER"): return TDatumType.INT, "int_col", 0, 0, TEncodingType.NONE
    if t in ("BIGINT", "UBIGINT", "HUGEINT"): return TDatumType.BIGINT, "int_col", 0, 0, TEncodingType.NONE
    if t in ("FLOAT", "REAL"): return TDatumType.FLOAT, "real_col", 0, 0, TEncodingType.NONE
    if t == "DOUBLE": return TDatumType.DOUBLE, "real_col", 0, 0, TEncodingType.NONE
    if t.startswith("DECIMAL"):
        p, s = (int(x) for x in t[t.index("(") + 1:-1].split(","))
        return TDatumType.DECIMAL, "real_col", p, s, TEncodingType.NONE
    if t == "DATE": return TDatumType.DATE, "int_col", 0, 0, TEncodingType.DATE_IN_DAYS
    if t == "TIME": return TDatumType.TIME, "int_col", 0, 0, TEncodingType.NONE
    if t.startswith("TIMESTAMP"): return TDatumType.TIMESTAMP, "int_col", 0, 0, TEncodingType.NONE
    return TDatumType.STR, "str_col", 0, 0, TEncodingType.DICT


def to_wire(v, dt):
    if dt == TDatumType.BOOL: return int(bool(v))
    if dt == TDatumType.DATE: return (v - EPOCH_DATE).days * 86400
    if dt == TDatumType.TIME: return v.hour * 3600 + v.minute * 60 + v.second
    if dt == TDatumType.TIMESTAMP:
        if v.tzinfo is not None: v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return (v - EPOCH) // datetime.timedelta(seconds=1)
    if dt in (TDatumType.FLOAT, TDatumType.DOUBLE, TDatumType.DECIMAL): return float(v)
    if dt == TDatumType.STR: return str(v)
    return int(v)


def peer_sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


class Handler:
    def __init__(self, args, password):
        self.db = duckdb.connect(":memory:")
        self.db.execute("SET threads TO 1")  # the same sums in the same order on every run
        self.db.create_function("peer_sleep", peer_sleep)
        self.lock = threading.Lock()
        self.user, self.password, self.dbname = args.user, password, args.dbname
        self.session_calls = args.session_calls
        self.sessions = {}

    def _session(self, session):
        if session not in self.sessions:
            raise TDBException(error_msg="Session not valid or expired.")
        return self.sessions[session]

    def _use(self, session):
        if self._session(session) == 0:
            del self.sessions[session]
            raise TDBException(error_msg="Session not valid or expired.")
        if self.session_calls:
            self.sessions[session] -= 1

    def connect(self, user, passwd, dbname):
        if user != self.user or passwd != self.password:
            raise TDBException(error_msg=f"Authentication failure for user '{user}'")
        if dbname not in (None, "", self.dbname):
            raise TDBException(error_msg=f"Database {dbname} does not exist.")
        sid = uuid.uuid4().hex
        self.sessions[sid] = self.session_calls or -1
        return sid

    def disconnect(self, session):
        self._session(session)
        del self.sessions[session]

    def get_version(self):
        return VERSION

    def _run(self, query):
        try:
            with self.lock:
                cur = self.db.cursor()
                cur.execute(query)
                desc = cur.description or []
                return desc, (cur.fetchall() if desc else [])
        except duckdb.Error as e:
            raise TDBException(error_msg=f"SQL Error: {e}")

    def sql_execute(self, session, query, column_format, nonce, first_n, at_most_n):
        self._use(session)
        if first_n >= 0 and at_most_n >= 0:
            raise TDBException(error_msg="At most one of first_n and at_most_n can be set")
        t0 = time.time()
        desc, rows = self._run(query)
        if first_n >= 0: rows = rows[:first_n]
        if at_most_n >= 0 and len(rows) > at_most_n:
            raise TDBException(error_msg=f"The query returned more than {at_most_n} rows")
        row_desc, kinds = [], []
        for name, dtype, *_ in desc:
            dt, lst, prec, scale, enc = heavy_type(dtype)
            kinds.append((dt, lst))
            row_desc.append(TColumnType(col_name=name, col_type=TTypeInfo(
                type=dt, nullable=True, is_array=False, encoding=enc, precision=prec, scale=scale,
                comp_param=32 if enc == TEncodingType.DICT else 0, size=-1)))
        word = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
        qtype = TQueryType.READ if word in ("SELECT", "WITH", "VALUES", "SHOW") else \
            TQueryType.SCHEMA_WRITE if word in ("CREATE", "DROP", "ALTER") else TQueryType.WRITE
        if column_format:
            cols = []
            for j, (dt, lst) in enumerate(kinds):
                data = TColumnData(int_col=[], real_col=[], str_col=[], arr_col=[])
                nulls = []
                for r in rows:
                    v = r[j]
                    getattr(data, lst).append(PLACEHOLDER[lst] if v is None else to_wire(v, dt))
                    nulls.append(v is None)
                cols.append(TColumn(data=data, nulls=nulls))
            row_set = TRowSet(row_desc=row_desc, rows=[], columns=cols, is_columnar=True)
        else:
            trows = []
            for r in rows:
                datums = []
                for (dt, lst), v in zip(kinds, r):
                    val = TDatumVal(arr_val=[])
                    if v is not None:
                        field = {"int_col": "int_val", "real_col": "real_val", "str_col": "str_val"}[lst]
                        setattr(val, field, to_wire(v, dt))
                    datums.append(TDatum(val=val, is_null=v is None))
                trows.append(TRow(cols=datums))
            row_set = TRowSet(row_desc=row_desc, rows=trows, columns=[], is_columnar=False)
        ms = int((time.time() - t0) * 1000)
        return TQueryResult(row_set=row_set, execution_time_ms=ms, total_time_ms=ms,
                            nonce=nonce or "", debug="", success=True, query_type=qtype)

    def load_table_binary_columnar(self, session, table_name, cols, column_names):
        """Appends the columns (int_col, real_col or str_col, whichever is filled; NULL where
        `nulls` says so) to the table: one DuckDB INSERT .. SELECT over the registered columns."""
        self._use(session)
        if not cols:
            raise TDBException(error_msg="No columns to load")
        values = []
        for col in cols:
            d = col.data
            data = d.int_col or d.real_col or d.str_col or []
            nulls = col.nulls or [False] * len(data)
            if len(nulls) != len(data):
                raise TDBException(error_msg="Column nulls and data differ in length")
            values.append([None if n else v for v, n in zip(data, nulls)])
        n = len(values[0])
        if any(len(v) != n for v in values):
            raise TDBException(error_msg="Columns of the load differ in length")
        names = list(column_names) or [f"c{j}" for j in range(len(values))]
        target = f" ({', '.join(names)})" if column_names else ""
        frame = {name: numpy.array(v, dtype=object) for name, v in zip(names, values)}
        try:
            with self.lock:
                cur = self.db.cursor()
                cur.register("peer_load", frame)
                cur.execute(f"INSERT INTO {table_name}{target} SELECT {', '.join(names)} FROM peer_load")
                cur.unregister("peer_load")
        except duckdb.Error as e:
            raise TDBException(error_msg=f"Load Error: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--dbname", default="heavyai")
    ap.add_argument("--session-calls", type=int, default=0)
    args = ap.parse_args()
    password = os.environ.get("HOP_HEAVYDB_PEER_PASSWORD")
    if not password:
        sys.exit("peer.py: set HOP_HEAVYDB_PEER_PASSWORD")
    processor = Heavy.Processor(Handler(args, password))
    transport = TSocket.TServerSocket(host="127.0.0.1", port=args.port)
    transport.listen()
    port = transport.handle.getsockname()[1]
    transport.listen = lambda: None  # already listening: serve() must not bind again
    server = TServer.TThreadedServer(processor, transport, TTransport.TBufferedTransportFactory(),
                                     TBinaryProtocol.TBinaryProtocolAcceleratedFactory())
    server.daemon = True
    print(f"HEAVYDB_PEER_PORT={port}", flush=True)
    server.serve()


if __name__ == "__main__":
    main()
