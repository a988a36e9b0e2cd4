//! `lvsfw ipvs list [--stats|--rate]`: the kernel's table, read over netlink, printed
//! the way `ipvsadm -Ln` prints it; `lvsfw ipvs summary`: its size in one line.

use std::process::ExitCode;

use ipvs::listing::{self, Columns};
use ipvs::Client;

const USAGE: &str = "usage: lvsfw ipvs list [--stats | --rate] | lvsfw ipvs summary";

pub fn run(args: &[String]) -> ExitCode {
    let columns = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list"] => Some(Columns::Connections),
        ["list", "--stats"] => Some(Columns::Stats),
        ["list", "--rate"] => Some(Columns::Rate),
        ["summary"] => None,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = Client::connect().and_then(|mut client| {
        let info = client.info()?;
        let table = client.status()?;
        Ok(match columns {
            Some(columns) => listing::render(&info, &table, columns),
            None => listing::summary(&table),
        })
    });
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvsfw ipvs: {e}");
            ExitCode::FAILURE
        }
    }
}
