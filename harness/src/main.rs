fn main() -> std::process::ExitCode {
    paxos_harness::cli::main()
}
