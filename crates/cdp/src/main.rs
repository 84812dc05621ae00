fn main() {
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).format_timestamp_millis().init();
    if let Err(e) = cdp::cli::run() {
        log::error!("{e}");
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
