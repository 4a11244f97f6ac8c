"""The Tabular Data Stream protocol (MS-TDS), as much of it as Azure SQL's clients use.

Pure encoding and decoding, no I/O: packets (2.2.3), PRELOGIN (2.2.6.5), LOGIN7 with its
FeatureExt block (2.2.6.4, FEDAUTH 0x02 with the SECURITYTOKEN library), SQL batches with
ALL_HEADERS (2.2.6.7, 2.2.5.3), transaction-manager requests (2.2.6.9), RPC requests
(2.2.6.6) and the server's tokens (2.2.7: LOGINACK, ENVCHANGE, INFO, ERROR,
FEATUREEXTACK, COLMETADATA, ROW, DONE, DONEPROC, DONEINPROC, RETURNSTATUS, RETURNVALUE).

Anything malformed raises :class:`ProtocolError`; the connection that read it is closed.
"""
from __future__ import annotations

import datetime as dt
import struct
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

# -- packets (MS-TDS 2.2.3.1) --------------------------------------------------------------------
SQL_BATCH, RPC, REPLY, ATTENTION, BULK, FEDAUTH_TOKEN, TRANSACTION, LOGIN7, SSPI, PRELOGIN = \
    0x01, 0x03, 0x04, 0x06, 0x07, 0x08, 0x0E, 0x10, 0x11, 0x12
STATUS_EOM, STATUS_IGNORE, STATUS_RESETCONNECTION, STATUS_RESETCONNECTIONSKIPTRAN = 0x01, 0x02, 0x08, 0x10
HEADER = struct.Struct(">BBHHBB")
MIN_PACKET, MAX_PACKET, DEFAULT_PACKET = 512, 32767, 4096
MAX_MESSAGE = 16 * 1024 * 1024  # one client message (a batch, a LOGIN7, an RPC) at most

# TDS versions (LOGIN7 little-endian; LOGINACK big-endian)
TDS74 = 0x74000004
TDS80 = 0x08000000


class ProtocolError(Exception):
    """The client broke the protocol: the connection is closed without an answer."""


def packets(kind: int, payload: bytes, size: int = DEFAULT_PACKET, spid: int = 0, first_id: int = 1) -> bytes:
    """``payload`` as one message of TDS packets of at most ``size`` bytes each."""
    room = size - HEADER.size
    out = bytearray()
    chunks = [payload[i:i + room] for i in range(0, len(payload), room)] or [b""]
    for n, chunk in enumerate(chunks):
        status = STATUS_EOM if n == len(chunks) - 1 else 0
        out += HEADER.pack(kind, status, HEADER.size + len(chunk), spid, (first_id + n) % 256, 0) + chunk
    return bytes(out)


# -- small readers --------------------------------------------------------------------------------
class Reader:
    """Bounds-checked reads from one message."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"message ends after {len(self.data)} bytes, {self.pos + n} needed")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def i32(self) -> int:
        return struct.unpack("<i", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def b_varchar(self) -> str:
        return ucs2(self.take(2 * self.u8()))

    def us_varchar(self) -> str:
        return ucs2(self.take(2 * self.u16()))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def ucs2(raw: bytes) -> str:
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError:
        raise ProtocolError("a string is not valid UTF-16") from None


def b_varchar(s: str) -> bytes:
    raw = s.encode("utf-16-le")
    return bytes([len(raw) // 2]) + raw


def us_varchar(s: str) -> bytes:
    raw = s.encode("utf-16-le")
    return struct.pack("<H", len(raw) // 2) + raw


# -- PRELOGIN (2.2.6.5) ---------------------------------------------------------------------------
PL_VERSION, PL_ENCRYPTION, PL_INSTOPT, PL_THREADID, PL_MARS, PL_TRACEID, PL_FEDAUTHREQUIRED, PL_NONCEOPT = range(8)
PL_TERMINATOR = 0xFF
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    r = Reader(payload)
    while True:
        token = r.u8()
        if token == PL_TERMINATOR:
            return options
        offset, length = struct.unpack(">HH", r.take(4))
        if offset + length > len(payload):
            raise ProtocolError("a PRELOGIN option points past the end of the message")
        options[token] = payload[offset:offset + length]


def build_prelogin(options: list[tuple[int, bytes]]) -> bytes:
    head = bytearray()
    data = bytearray()
    base = 5 * len(options) + 1
    for token, value in options:
        head += struct.pack(">BHH", token, base + len(data), len(value))
        data += value
    return bytes(head) + bytes([PL_TERMINATOR]) + bytes(data)


# -- LOGIN7 (2.2.6.4) -----------------------------------------------------------------------------
FEATURE_SESSIONRECOVERY, FEATURE_FEDAUTH, FEATURE_COLUMNENCRYPTION, FEATURE_GLOBALTRANSACTIONS = 0x01, 0x02, 0x04, 0x05
FEATURE_AZURESQLSUPPORT, FEATURE_DATACLASSIFICATION, FEATURE_UTF8_SUPPORT, FEATURE_AZURESQLDNSCACHING = 0x08, 0x09, 0x0A, 0x0B
FEATURE_TERMINATOR = 0xFF
FEDAUTH_LIBRARY_SECURITYTOKEN, FEDAUTH_LIBRARY_MSAL = 0x01, 0x02
OPT3_EXTENSION = 0x10
OPT2_INTEGRATED_SECURITY = 0x80


@dataclass
class FedAuth:
    library: int
    echo: bool
    token: str | None = None  # SECURITYTOKEN: the access token
    workflow: int | None = None  # MSAL: the client asks for a token exchange (not supported here)


@dataclass
class Login7:
    tds_version: int
    packet_size: int
    client_pid: int
    option_flags2: int
    hostname: str = ""
    username: str = ""
    password: str = ""
    appname: str = ""
    servername: str = ""
    library: str = ""
    language: str = ""
    database: str = ""
    sspi: bytes = b""
    fedauth: FedAuth | None = None
    features: dict[int, bytes] = field(default_factory=dict)

    @property
    def integrated(self) -> bool:
        return bool(self.option_flags2 & OPT2_INTEGRATED_SECURITY) or bool(self.sspi)


def _unscramble(raw: bytes) -> str:
    """LOGIN7 passwords: every byte had its nibbles swapped and was XORed with 0xA5."""
    plain = bytes((((b ^ 0xA5) << 4) & 0xF0) | (((b ^ 0xA5) >> 4) & 0x0F) for b in raw)
    return ucs2(plain)


def parse_login7(payload: bytes) -> Login7:
    r = Reader(payload)
    length = r.u32()
    if length != len(payload) or length < 94:
        raise ProtocolError(f"LOGIN7 declares {length} bytes but carries {len(payload)}")
    tds_version, packet_size = r.u32(), r.u32()
    r.take(4)  # client program version
    client_pid = r.u32()
    r.take(4)  # connection id
    r.u8()  # option flags 1
    flags2 = r.u8()
    r.u8()  # type flags
    flags3 = r.u8()
    r.take(8)  # time zone, LCID

    def offlen() -> tuple[int, int]:
        return r.u16(), r.u16()

    fields = {}
    for name in ("hostname", "username", "password", "appname", "servername", "extension", "library",
                 "language", "database"):
        fields[name] = offlen()
    r.take(6)  # client id (MAC address)
    sspi_off, sspi_len = offlen()
    offlen()  # attach db file
    offlen()  # change password
    sspi_long = r.u32()

    def text(name: str) -> bytes:
        off, n = fields[name]
        if n and (off < 94 or off + 2 * n > len(payload)):
            raise ProtocolError(f"LOGIN7 field {name} points outside the message")
        return payload[off:off + 2 * n] if n else b""

    login = Login7(tds_version, packet_size, client_pid, flags2)
    for name in ("hostname", "username", "appname", "servername", "library", "language", "database"):
        setattr(login, name, ucs2(text(name)))
    login.password = _unscramble(text("password"))
    if sspi_len:
        n = sspi_long if sspi_len == 0xFFFF else sspi_len
        if sspi_off + n > len(payload):
            raise ProtocolError("LOGIN7 SSPI data points outside the message")
        login.sspi = payload[sspi_off:sspi_off + n] or b"\0"
    if flags3 & OPT3_EXTENSION:
        off, n = fields["extension"]
        if n < 4 or off + 4 > len(payload):
            raise ProtocolError("LOGIN7 has fExtension but no FeatureExt offset")
        (fe_off,) = struct.unpack_from("<I", payload, off)
        if not 94 <= fe_off < len(payload):
            raise ProtocolError("LOGIN7 FeatureExt offset points outside the message")
        login.features = _features(Reader(payload, fe_off))
        if FEATURE_FEDAUTH in login.features:
            login.fedauth = _fedauth(login.features[FEATURE_FEDAUTH])
    return login


def _features(r: Reader) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while True:
        fid = r.u8()
        if fid == FEATURE_TERMINATOR:
            return out
        n = r.u32()
        if n > r.left:
            raise ProtocolError("a LOGIN7 feature is longer than the message")
        out[fid] = r.take(n)


def _fedauth(data: bytes) -> FedAuth:
    r = Reader(data)
    options = r.u8()
    library, echo = options >> 1, bool(options & 1)
    fa = FedAuth(library, echo)
    if library == FEDAUTH_LIBRARY_SECURITYTOKEN:
        n = r.u32()
        if n > r.left or n % 2:
            raise ProtocolError("the FEDAUTH token length is wrong")
        fa.token = ucs2(r.take(n))
    elif library == FEDAUTH_LIBRARY_MSAL:
        fa.workflow = r.u8() if r.left else None
    return fa


# -- client requests after login ------------------------------------------------------------------
def strip_all_headers(payload: bytes) -> tuple[bytes, bytes]:
    """ALL_HEADERS (2.2.5.3) and what follows it."""
    if len(payload) < 4:
        raise ProtocolError("the request has no ALL_HEADERS")
    (total,) = struct.unpack_from("<I", payload)
    if total < 4 or total > len(payload):
        raise ProtocolError("ALL_HEADERS has a wrong total length")
    r = Reader(payload[:total], 4)
    while r.left:
        n = r.u32()
        if n < 6 or n - 4 > r.left:
            raise ProtocolError("a header in ALL_HEADERS has a wrong length")
        r.take(n - 4)
    return payload[:total], payload[total:]


def parse_batch(payload: bytes) -> str:
    _, rest = strip_all_headers(payload)
    if len(rest) % 2:
        raise ProtocolError("the SQL batch text is not UTF-16")
    return ucs2(rest)


TM_GET_DTC_ADDRESS, TM_PROPAGATE_XACT, TM_BEGIN_XACT, TM_PROMOTE_XACT, TM_COMMIT_XACT, TM_ROLLBACK_XACT, \
    TM_SAVE_XACT = 0, 1, 5, 6, 7, 8, 9


def parse_transaction(payload: bytes) -> int:
    _, rest = strip_all_headers(payload)
    if len(rest) < 2:
        raise ProtocolError("the transaction manager request has no type")
    return struct.unpack_from("<H", rest)[0]


# -- RPC (2.2.6.6) with the parameter types clients send -----------------------------------------
SP_EXECUTESQL, SP_PREPARE, SP_EXECUTE, SP_PREPEXEC, SP_UNPREPARE = 10, 11, 12, 13, 15
PROC_NAMES = {"sp_executesql": SP_EXECUTESQL, "sp_prepare": SP_PREPARE, "sp_execute": SP_EXECUTE,
              "sp_prepexec": SP_PREPEXEC, "sp_unprepare": SP_UNPREPARE}


@dataclass
class Param:
    name: str
    value: Any
    output: bool
    type_id: int


@dataclass
class RpcCall:
    proc: int | str
    params: list[Param]


def parse_rpc(payload: bytes) -> list[RpcCall]:
    _, rest = strip_all_headers(payload)
    r = Reader(rest)
    calls = []
    while r.left:
        n = r.u16()
        proc: int | str = r.u16() if n == 0xFFFF else ucs2(r.take(2 * n))
        r.u16()  # option flags
        params = []
        while r.left and r.data[r.pos] not in (0x80, 0xFF, 0xFE):
            name = r.b_varchar()
            status = r.u8()
            type_id, value = _typed_value(r)
            params.append(Param(name, value, bool(status & 1), type_id))
        calls.append(RpcCall(proc, params))
        if r.left:
            r.u8()  # batch separator
    return calls


def _typed_value(r: Reader) -> tuple[int, Any]:
    t = r.u8()
    if t in (INTN, BITN, FLTN, MONEYN, DATETIMN, GUID):
        r.u8()  # max length
        n = r.u8()
        raw = r.take(n)
        if not n:
            return t, None
        if t == INTN:
            return t, int.from_bytes(raw, "little", signed=True)
        if t == BITN:
            return t, bool(raw[0])
        if t == FLTN:
            return t, struct.unpack("<f" if n == 4 else "<d", raw)[0]
        if t == GUID:
            return t, str(uuid.UUID(bytes_le=raw)).upper()
        raise ProtocolError(f"parameters of type 0x{t:02x} are not supported")
    if t in FIXED_SIZES:
        raw = r.take(FIXED_SIZES[t])
        if t == BIT:
            return t, bool(raw[0])
        if t in (FLT4, FLT8):
            return t, struct.unpack("<f" if t == FLT4 else "<d", raw)[0]
        return t, int.from_bytes(raw, "little", signed=True)
    if t in (NVARCHAR, NCHAR, BIGVARCHR, BIGCHAR, BIGVARBIN, BIGBINARY):
        maxlen = r.u16()
        if t in (NVARCHAR, NCHAR, BIGVARCHR, BIGCHAR):
            r.take(5)  # collation
        raw = _plp(r) if maxlen == 0xFFFF else _short(r)
        if raw is None:
            return t, None
        if t in (NVARCHAR, NCHAR):
            return t, ucs2(raw)
        if t in (BIGVARCHR, BIGCHAR):
            return t, raw.decode("cp1252", "replace")
        return t, raw
    if t in (DECIMALN, NUMERICN):
        r.u8()
        r.u8()  # precision
        scale = r.u8()
        n = r.u8()
        if not n:
            return t, None
        raw = r.take(n)
        value = Decimal(int.from_bytes(raw[1:], "little")).scaleb(-scale)
        return t, value if raw[0] else -value
    raise ProtocolError(f"parameters of type 0x{t:02x} are not supported")


def _short(r: Reader) -> bytes | None:
    n = r.u16()
    return None if n == 0xFFFF else r.take(n)


def _plp(r: Reader) -> bytes | None:
    total = r.u64()
    if total == 0xFFFFFFFFFFFFFFFF:
        return None
    out = bytearray()
    while True:
        n = r.u32()
        if n == 0:
            return bytes(out)
        out += r.take(n)
        if len(out) > MAX_MESSAGE:
            raise ProtocolError("a parameter value is too large")


# -- data types (2.2.5.4) -------------------------------------------------------------------------
INT1, BIT, INT2, INT4, DATETIM4, FLT4, MONEY, DATETIME, FLT8, MONEY4, INT8 = \
    0x30, 0x32, 0x34, 0x38, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x7A, 0x7F
FIXED_SIZES = {INT1: 1, BIT: 1, INT2: 2, INT4: 4, FLT4: 4, FLT8: 8, INT8: 8}
GUID, INTN, BITN, DECIMALN, NUMERICN, FLTN, MONEYN, DATETIMN = 0x24, 0x26, 0x68, 0x6A, 0x6C, 0x6D, 0x6E, 0x6F
BIGVARBIN, BIGVARCHR, BIGBINARY, BIGCHAR, NVARCHAR, NCHAR = 0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF
# SQL_Latin1_General_CP1_CI_AS, the default collation of an Azure SQL database
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
NVARCHAR_MAX_CHARS = 4000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # bit | int | bigint | float | nvarchar | nvarchar(max) | varbinary | varbinary(max) | uniqueidentifier
    nullable: bool = True


def column_kind(values: Iterable[Any]) -> str:
    """The SQL Server type a result column's values are sent as."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bit")
        elif isinstance(v, int):
            kinds.add("int" if -2 ** 31 <= v < 2 ** 31 else "bigint")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, (bytes, bytearray, memoryview)):
            kinds.add("varbinary(max)" if len(v) > 8000 else "varbinary")
        elif isinstance(v, uuid.UUID):
            kinds.add("uniqueidentifier")
        else:
            kinds.add("nvarchar(max)" if len(str(v)) > NVARCHAR_MAX_CHARS else "nvarchar")
    if not kinds:
        return "nvarchar"
    if kinds <= {"int", "bigint"}:
        return "bigint" if "bigint" in kinds else "int"
    if kinds <= {"int", "bigint", "float"}:
        return "float"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"varbinary", "varbinary(max)"}:
        return "varbinary(max)"
    return "nvarchar(max)" if any(k.endswith("(max)") for k in kinds) else "nvarchar"


def _type_info(kind: str) -> bytes:
    if kind == "bit":
        return bytes([BITN, 1])
    if kind == "int":
        return bytes([INTN, 4])
    if kind == "bigint":
        return bytes([INTN, 8])
    if kind == "float":
        return bytes([FLTN, 8])
    if kind == "uniqueidentifier":
        return bytes([GUID, 16])
    if kind == "nvarchar":
        return bytes([NVARCHAR]) + struct.pack("<H", 2 * NVARCHAR_MAX_CHARS) + COLLATION
    if kind == "nvarchar(max)":
        return bytes([NVARCHAR]) + b"\xff\xff" + COLLATION
    if kind == "varbinary":
        return bytes([BIGVARBIN]) + struct.pack("<H", 8000)
    if kind == "varbinary(max)":
        return bytes([BIGVARBIN]) + b"\xff\xff"
    raise ValueError(kind)


def _value(kind: str, v: Any) -> bytes:
    if kind in ("bit", "int", "bigint", "float", "uniqueidentifier"):
        if v is None:
            return b"\x00"
        if kind == "bit":
            return b"\x01" + bytes([1 if v else 0])
        if kind == "int":
            return b"\x04" + struct.pack("<i", int(v))
        if kind == "bigint":
            return b"\x08" + struct.pack("<q", int(v))
        if kind == "float":
            return b"\x08" + struct.pack("<d", float(v))
        return b"\x10" + uuid.UUID(str(v)).bytes_le
    if kind.endswith("(max)"):
        if v is None:
            return b"\xff" * 8
        raw = _raw(kind, v)
        return struct.pack("<Q", len(raw)) + (struct.pack("<I", len(raw)) + raw if raw else b"") + b"\x00" * 4
    if v is None:
        return b"\xff\xff"
    raw = _raw(kind, v)
    return struct.pack("<H", len(raw)) + raw


def _raw(kind: str, v: Any) -> bytes:
    if kind.startswith("varbinary"):
        return bytes(v)
    if isinstance(v, (dt.datetime, dt.date)):
        v = v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    return str(v).encode("utf-16-le")


# -- server tokens (2.2.7) ------------------------------------------------------------------------
TOK_RETURNSTATUS, TOK_COLMETADATA, TOK_ERROR, TOK_INFO, TOK_LOGINACK, TOK_FEATUREEXTACK, TOK_ROW = \
    0x79, 0x81, 0xAA, 0xAB, 0xAD, 0xAE, 0xD1
TOK_ENVCHANGE, TOK_DONE, TOK_DONEPROC, TOK_DONEINPROC, TOK_RETURNVALUE = 0xE3, 0xFD, 0xFE, 0xFF, 0xAC
DONE_FINAL, DONE_MORE, DONE_ERROR, DONE_INXACT, DONE_COUNT, DONE_ATTN, DONE_SRVERROR = \
    0x00, 0x01, 0x02, 0x04, 0x10, 0x20, 0x100
ENV_DATABASE, ENV_LANGUAGE, ENV_PACKETSIZE, ENV_COLLATION, ENV_BEGINTRAN, ENV_COMMITTRAN, ENV_ROLLBACKTRAN = \
    1, 2, 4, 7, 8, 9, 10
CMD_SELECT, CMD_INSERT, CMD_DELETE, CMD_UPDATE = 0xC1, 0xC3, 0xC4, 0xC5


class Tokens:
    """A server response being built, token by token."""

    def __init__(self):
        self.buf = bytearray()

    def bytes(self) -> bytes:
        return bytes(self.buf)

    def message(self, token: int, number: int, state: int, severity: int, text: str, server: str,
                proc: str = "", line: int = 1) -> None:
        body = (struct.pack("<iBB", number, state, severity) + us_varchar(text) + b_varchar(server)
                + b_varchar(proc) + struct.pack("<I", line))
        self.buf += bytes([token]) + struct.pack("<H", len(body)) + body

    def error(self, number: int, state: int, severity: int, text: str, server: str, line: int = 1) -> None:
        self.message(TOK_ERROR, number, state, severity, text, server, line=line)

    def info(self, number: int, state: int, severity: int, text: str, server: str) -> None:
        self.message(TOK_INFO, number, state, severity, text, server)

    def loginack(self, tds_version: int, prog_name: str, version: tuple[int, int, int]) -> None:
        major, minor, build = version
        body = bytes([1]) + struct.pack(">I", tds_version) + b_varchar(prog_name) + \
            bytes([major, minor, build >> 8, build & 0xFF])
        self.buf += bytes([TOK_LOGINACK]) + struct.pack("<H", len(body)) + body

    def envchange(self, kind: int, new: str | bytes, old: str | bytes = "") -> None:
        def enc(v):
            return b_varchar(v) if isinstance(v, str) else bytes([len(v)]) + v
        body = bytes([kind]) + enc(new) + enc(old)
        self.buf += bytes([TOK_ENVCHANGE]) + struct.pack("<H", len(body)) + body

    def featureextack(self, features: list[tuple[int, bytes]]) -> None:
        self.buf += bytes([TOK_FEATUREEXTACK])
        for fid, data in features:
            self.buf += bytes([fid]) + struct.pack("<I", len(data)) + data
        self.buf += bytes([FEATURE_TERMINATOR])

    def colmetadata(self, columns: list[Column]) -> None:
        self.buf += bytes([TOK_COLMETADATA]) + struct.pack("<H", len(columns))
        for c in columns:
            self.buf += struct.pack("<IH", 0, 0x0001 if c.nullable else 0) + _type_info(c.kind) + b_varchar(c.name)

    def row(self, columns: list[Column], values: Iterable[Any]) -> None:
        self.buf += bytes([TOK_ROW])
        for c, v in zip(columns, values):
            self.buf += _value(c.kind, v)

    def done(self, status: int = DONE_FINAL, cmd: int = 0, count: int = 0, token: int = TOK_DONE) -> None:
        self.buf += bytes([token]) + struct.pack("<HHQ", status, cmd, count)

    def return_status(self, value: int) -> None:
        self.buf += bytes([TOK_RETURNSTATUS]) + struct.pack("<i", value)

    def return_value(self, ordinal: int, name: str, value: int | None) -> None:
        """An output parameter of type int (sp_prepare's and sp_prepexec's handle)."""
        self.buf += bytes([TOK_RETURNVALUE]) + struct.pack("<H", ordinal) + b_varchar(name) + bytes([0x01]) + \
            struct.pack("<IH", 0, 0x0001) + _type_info("int") + _value("int", value)
