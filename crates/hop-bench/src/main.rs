fn main() -> std::process::ExitCode {
    hop_bench::main()
}
