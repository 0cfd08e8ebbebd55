import Mounts
import OCI
import Seccomp

/// Messages between the runtime and the container's init after the namespace stage, as Channel
/// frames on the sync socket.
///
///     runtime                                   init (inside every namespace)
///       config(InitConfig, fds) + fds --------->  hostname, mounts, devices
///       <---------------------------------------  runtimeHooks          (only if the spec has any)
///       run prestart/createRuntime hooks
///       hooksDone ----------------------------->  createContainer hooks, pivot_root, masks,
///                                                 sysctls, console, path lookup
///       <---------------------------------------  ready(fds) + seccomp listener
///       write state.json, pid file; exit          block opening exec.fifo until `start`
///
/// For exec the same socket carries config → ready; the runtime then sees EOF when the exec happens.
///
/// A message with fds names each, in the order they ride with it (`InitFD`): no fd's meaning
/// rests on its position or on a flag elsewhere.
enum InitMessage: Codable {
    case config(InitConfig, fds: [InitFD])
    case runtimeHooks
    case hooksDone
    case ready(fds: [InitFD])
    case failed(String)
}

/// What an fd sent with an init message is.
enum InitFD: String, Codable {
    /// --console-socket: init sends the pty master on it.
    case consoleSocket
    /// Create only: opened for writing blocks init until `start`.
    case execFifo
    /// Exec only: the container's mount and user namespaces, which init joins itself.
    case mountNamespace, userNamespace
    /// From init: the seccomp listener of its trapped calls.
    case seccompListener
}

struct InitConfig: Codable {
    enum Mode: String, Codable { case create, exec }
    var mode: Mode
    var id: String
    var spec: Spec
    var process: Process
    /// Create only: how to build the filesystem.
    var rootfs: RootfsPlan?
    var waitForRuntimeHooks: Bool
    /// Create only: init makes the cgroup namespace itself, first: the runtime put it in the
    /// container's cgroups after the namespace stage (which made the others) reported its pid.
    var unshareCgroup: Bool = false
    var preserveFDs: Int
    /// Syscalls whose seccomp action becomes user notification.
    var trapped: [String]
    /// The filter compiled by the runtime (create); nil: init compiles it from the spec (exec).
    var compiledSeccomp: CompiledFilter? = nil
    /// The container's state as hooks receive it on stdin (bundle, annotations...).
    var state: State
}
