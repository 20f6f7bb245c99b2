fn main() -> std::process::ExitCode {
    hop_cli::main()
}
