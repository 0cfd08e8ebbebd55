// sysbox-runc: an OCI runtime with runc's command line, whose containers are system containers.
import Runtime
import SysboxCore

// The container init must start before anything can create a thread (see Runtime/Init.swift).
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "init" {
    ContainerInit.main()
}
exit(CLI.main(Array(CommandLine.arguments.dropFirst())))
