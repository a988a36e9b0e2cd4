//! `lvsfw ipvs list [--stats|--rate]`: the kernel's table, read over netlink, printed
//! the way `ipvsadm -Ln` prints it.

use std::process::ExitCode;

use ipvs::listing::{self, Columns};
use ipvs::Client;

const USAGE: &str = "usage: lvsfw ipvs list [--stats | --rate]";

pub fn run(args: &[String]) -> ExitCode {
    let columns = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list"] => Columns::Connections,
        ["list", "--stats"] => Columns::Stats,
        ["list", "--rate"] => Columns::Rate,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = Client::connect().and_then(|mut client| {
        let info = client.info()?;
        let table = client.status()?;
        Ok(listing::render(&info, &table, columns))
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
