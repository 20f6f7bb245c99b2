//! `hop_sql::SqlBackend` on HeavyDB: the workflow's SQL text as it is, results read columnar,
//! bulk loads through `load_table_binary_columnar`.

use hop_sql::backend::check_bulk_shape;
use hop_sql::{ColumnData, Rows, SqlBackend, SqlError};

use crate::client::HeavyDbClient;
use crate::config::HeavyDbConfig;

/// The engine name reported in job results.
pub const NAME: &str = "heavydb";

/// The legacy workflow's backend on a HeavyDB server.
#[derive(Debug)]
pub struct HeavyDbBackend {
    client: HeavyDbClient,
}

impl HeavyDbBackend {
    /// Connects and logs in.
    pub fn connect(config: HeavyDbConfig) -> Result<Self, SqlError> {
        let target = config.url();
        let client = HeavyDbClient::connect(config).map_err(|e| SqlError::Open {
            backend: NAME,
            target,
            message: e.to_string(),
        })?;
        Ok(Self { client })
    }

    /// The client, for calls outside the workflow (`get_version`).
    pub fn client_mut(&mut self) -> &mut HeavyDbClient {
        &mut self.client
    }
}

impl SqlBackend for HeavyDbBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&mut self, sql: &str) -> Result<(), SqlError> {
        self.client
            .sql_execute(sql, false)
            .map(drop)
            .map_err(|e| SqlError::statement(NAME, sql, e))
    }

    fn query(&mut self, sql: &str) -> Result<Rows, SqlError> {
        self.client
            .sql_execute(sql, true)
            .map_err(|e| SqlError::statement(NAME, sql, e))
    }

    fn bulk_load(
        &mut self,
        table: &str,
        columns: &[&str],
        data: &[ColumnData<'_>],
    ) -> Result<(), SqlError> {
        check_bulk_shape(columns, data)?;
        self.client
            .load_table_binary_columnar(table, columns, data)
            .map_err(|e| {
                let call = format!("load_table_binary_columnar into {table}");
                SqlError::statement(NAME, &call, e)
            })
    }
}
