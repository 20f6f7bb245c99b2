//! The Thrift client: one TCP connection (buffered transport, strict binary protocol, as
//! pyheavydb and HeavyDB's own clients use on port 6274) and one session, reused for every call.
//!
//! Before each call the client checks that the server has not closed the connection; if it has,
//! or a call finds its session expired ("Session not valid"), it reconnects and logs in again.
//! A call that breaks mid-way is retried on a new connection only when it is read-only; a
//! timeout drops the connection (its stream is out of step) and is reported, not retried.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use hop_sql::{ColumnData, Rows};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TInputProtocol, TMessageIdentifier, TMessageType,
    TOutputProtocol,
};
use thrift::transport::{TBufferedReadTransport, TBufferedWriteTransport};

use crate::config::HeavyDbConfig;
use crate::convert::to_rows;
use crate::error::HeavyDbError;
use crate::wire::{Arg, read_query_result, read_reply, write_args};

/// What HeavyDB says (in a `TDBException`) about a session it no longer knows.
const SESSION_GONE: &str = "Session not valid";

/// A socket whose timeouts read as `TimedOut` (Linux reports them as `WouldBlock`).
#[derive(Debug)]
struct Socket(TcpStream);

fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, e)
    } else {
        e
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(timed_out)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(timed_out)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(timed_out)
    }
}

/// An open connection with its session.
struct Live {
    stream: TcpStream,
    input: TBinaryInputProtocol<TBufferedReadTransport<Socket>>,
    output: TBinaryOutputProtocol<TBufferedWriteTransport<Socket>>,
    sequence: i32,
    session: String,
}

/// How a call failed, before it becomes a [`HeavyDbError`].
enum Failure {
    /// The server raised `TDBException`.
    Db(String),
    /// Transport, protocol or application error.
    Thrift(thrift::Error),
}

impl Live {
    /// Opens the TCP connection and logs in.
    fn open(config: &HeavyDbConfig) -> Result<Self, HeavyDbError> {
        let addr = config.addr();
        let connect_error = |message: String| HeavyDbError::Connect {
            addr: addr.clone(),
            message,
        };
        let resolved = (config.host.as_str(), config.port)
            .to_socket_addrs()
            .map_err(|e| connect_error(e.to_string()))?
            .next()
            .ok_or_else(|| connect_error("the host name resolves to no address".into()))?;
        let stream = TcpStream::connect_timeout(&resolved, config.connect_timeout)
            .map_err(|e| connect_error(e.to_string()))?;
        let setup = |stream: &TcpStream| {
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(config.call_timeout))?;
            stream.set_write_timeout(Some(config.call_timeout))?;
            Ok::<_, io::Error>((stream.try_clone()?, stream.try_clone()?))
        };
        let (reader, writer) = setup(&stream).map_err(|e| connect_error(e.to_string()))?;
        let mut live = Live {
            stream,
            input: TBinaryInputProtocol::new(TBufferedReadTransport::new(Socket(reader)), true),
            output: TBinaryOutputProtocol::new(TBufferedWriteTransport::new(Socket(writer)), true),
            sequence: 0,
            session: String::new(),
        };
        let args = [
            Arg::Str(1, &config.user),
            Arg::Str(2, config.password.expose()),
            Arg::Str(3, &config.database),
        ];
        live.session = match live.exchange("connect", &args, |i| i.read_string()) {
            Ok(Some(session)) => session,
            Ok(None) => return Err(classify(config, "connect", missing_result())),
            Err(Failure::Db(message)) => {
                return Err(HeavyDbError::Login {
                    addr,
                    user: config.user.clone(),
                    database: config.database.clone(),
                    message,
                });
            }
            Err(Failure::Thrift(e)) => return Err(classify(config, "connect", e)),
        };
        Ok(live)
    }

    /// Whether the server has closed the connection (a read would see end of file now).
    fn closed_by_server(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let peeked = self.stream.peek(&mut [0u8; 1]);
        let restored = self.stream.set_nonblocking(false).is_ok();
        match peeked {
            Ok(0) => true,
            Ok(_) => !restored,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock || !restored,
        }
    }

    /// One call: sends `<method>_args` and reads `<method>_result`.
    fn exchange<T>(
        &mut self,
        method: &str,
        args: &[Arg<'_>],
        success: impl FnMut(&mut dyn TInputProtocol) -> thrift::Result<T>,
    ) -> Result<Option<T>, Failure> {
        self.sequence = self.sequence.wrapping_add(1);
        let sent = (|| {
            let o: &mut dyn TOutputProtocol = &mut self.output;
            o.write_message_begin(&TMessageIdentifier::new(
                method,
                TMessageType::Call,
                self.sequence,
            ))?;
            write_args(o, method, args, &self.session)?;
            o.write_message_end()?;
            o.flush()
        })();
        sent.map_err(Failure::Thrift)?;
        let i: &mut dyn TInputProtocol = &mut self.input;
        let reply = (|| {
            let ident = i.read_message_begin()?;
            if ident.message_type == TMessageType::Exception {
                let e = thrift::Error::read_application_error_from_in_protocol(i)?;
                i.read_message_end()?;
                return Err(thrift::Error::Application(e));
            }
            thrift::protocol::verify_expected_message_type(
                TMessageType::Reply,
                ident.message_type,
            )?;
            thrift::protocol::verify_expected_service_call(method, &ident.name)?;
            thrift::protocol::verify_expected_sequence_number(
                self.sequence,
                ident.sequence_number,
            )?;
            let reply = read_reply(i, success)?;
            i.read_message_end()?;
            Ok(reply)
        })();
        reply.map_err(Failure::Thrift)?.map_err(Failure::Db)
    }
}

fn missing_result() -> thrift::Error {
    thrift::Error::Protocol(thrift::ProtocolError::new(
        thrift::ProtocolErrorKind::InvalidData,
        "the reply has no result",
    ))
}

/// A Thrift failure of `method` as the error to report.
fn classify(config: &HeavyDbConfig, method: &'static str, e: thrift::Error) -> HeavyDbError {
    let addr = config.addr();
    match e {
        thrift::Error::Transport(t) if t.kind == thrift::TransportErrorKind::TimedOut => {
            HeavyDbError::Timeout {
                addr,
                method,
                timeout: config.call_timeout,
            }
        }
        thrift::Error::Transport(t) => HeavyDbError::Connection {
            addr,
            method,
            message: t.to_string(),
        },
        other => HeavyDbError::Protocol {
            addr,
            method,
            message: other.to_string(),
        },
    }
}

/// A HeavyDB client: one connection and session, opened on the first call (or by
/// [`HeavyDbClient::connect`]) and reused; logged out when dropped.
pub struct HeavyDbClient {
    config: HeavyDbConfig,
    live: Option<Live>,
}

impl std::fmt::Debug for HeavyDbClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeavyDbClient")
            .field("url", &self.config.url())
            .field("connected", &self.live.is_some())
            .finish()
    }
}

impl HeavyDbClient {
    /// Connects and logs in now, so that a wrong address or password shows at once.
    pub fn connect(config: HeavyDbConfig) -> Result<Self, HeavyDbError> {
        let live = Live::open(&config)?;
        Ok(Self {
            config,
            live: Some(live),
        })
    }

    pub fn config(&self) -> &HeavyDbConfig {
        &self.config
    }

    /// Logs out and closes the connection; the next call opens a new one.
    pub fn disconnect(&mut self) -> Result<(), HeavyDbError> {
        match self.live.take() {
            None => Ok(()),
            Some(mut live) => match live.exchange("disconnect", &[Arg::Session(1)], |_| Ok(())) {
                Ok(_) => Ok(()),
                Err(Failure::Db(message)) if message.contains(SESSION_GONE) => Ok(()),
                Err(Failure::Db(message)) => Err(HeavyDbError::Server {
                    method: "disconnect",
                    message,
                }),
                Err(Failure::Thrift(e)) => Err(classify(&self.config, "disconnect", e)),
            },
        }
    }

    /// The server's version string (`get_version`).
    pub fn get_version(&mut self) -> Result<String, HeavyDbError> {
        self.call("get_version", &[], true, |i| i.read_string())?
            .ok_or_else(|| classify(&self.config, "get_version", missing_result()))
    }

    /// Runs one statement (`sql_execute` with `column_format = true`, no row limits) and returns
    /// its columnar result (empty for statements without rows).
    ///
    /// `read_only` says whether the statement may run twice: only then is it retried on a new
    /// connection after the connection broke mid-call.
    pub fn sql_execute(&mut self, sql: &str, read_only: bool) -> Result<Rows, HeavyDbError> {
        let args = [
            Arg::Session(1),
            Arg::Str(2, sql),
            Arg::Bool(3, true),
            Arg::Str(4, ""),
            Arg::I32(5, -1),
            Arg::I32(6, -1),
        ];
        let result = self
            .call("sql_execute", &args, read_only, read_query_result)?
            .ok_or_else(|| classify(&self.config, "sql_execute", missing_result()))?;
        to_rows(result).map_err(|message| HeavyDbError::Protocol {
            addr: self.config.addr(),
            method: "sql_execute",
            message,
        })
    }

    /// Appends columns to `table` (`load_table_binary_columnar`): `data[c]` holds the values of
    /// `columns[c]`, none NULL. Never retried after the connection broke mid-call (the rows may
    /// have been appended).
    pub fn load_table_binary_columnar(
        &mut self,
        table: &str,
        columns: &[&str],
        data: &[ColumnData<'_>],
    ) -> Result<(), HeavyDbError> {
        let args = [
            Arg::Session(1),
            Arg::Str(2, table),
            Arg::Columns(3, data),
            Arg::Strings(4, columns),
        ];
        self.call("load_table_binary_columnar", &args, false, |_| Ok(()))
            .map(drop)
    }

    /// One call with reconnection: a connection the server closed or a session it expired is
    /// replaced before the call is sent (again); a call that broke mid-way is sent once more on
    /// a new connection only when `retry_broken`.
    fn call<T>(
        &mut self,
        method: &'static str,
        args: &[Arg<'_>],
        retry_broken: bool,
        mut success: impl FnMut(&mut dyn TInputProtocol) -> thrift::Result<T>,
    ) -> Result<Option<T>, HeavyDbError> {
        let mut retried = false;
        loop {
            let live = match &mut self.live {
                Some(live) if !live.closed_by_server() => live,
                _ => self.live.insert(Live::open(&self.config)?),
            };
            match live.exchange(method, args, &mut success) {
                Ok(value) => return Ok(value),
                Err(Failure::Db(message)) if message.contains(SESSION_GONE) && !retried => {
                    self.live = None;
                }
                Err(Failure::Db(message)) => return Err(HeavyDbError::Server { method, message }),
                Err(Failure::Thrift(e)) => {
                    self.live = None;
                    let error = classify(&self.config, method, e);
                    if retried || !retry_broken || !matches!(error, HeavyDbError::Connection { .. })
                    {
                        return Err(error);
                    }
                }
            }
            retried = true;
        }
    }
}

impl Drop for HeavyDbClient {
    /// Logs out (best effort: the server drops the session anyway when it expires).
    fn drop(&mut self) {
        // Nothing to do about a failure here: the connection is closed either way.
        let _ = self.disconnect();
    }
}
