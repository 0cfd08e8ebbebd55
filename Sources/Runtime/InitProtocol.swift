import Mounts
import OCI
import Seccomp

/// Messages between the runtime and the container's init after the namespace stage, as Channel
/// frames on the sync socket.
///
///     runtime                                   init (inside every namespace)
///       config(InitConfig) + fds -------------->  hostname, mounts, devices
///       <---------------------------------------  runtimeHooks          (only if the spec has any)
///       run prestart/createRuntime hooks
///       hooksDone ----------------------------->  createContainer hooks, pivot_root, masks,
///                                                 sysctls, console, path lookup
///       <---------------------------------------  ready
///       write state.json, pid file; exit          block opening exec.fifo until `start`
///
/// For exec the same socket carries config → ready; the runtime then sees EOF when the exec happens.
enum InitMessage: Codable {
    case config(InitConfig)
    case runtimeHooks
    case hooksDone
    case ready
    case failed(String)
}

struct InitConfig: Codable {
    enum Mode: String, Codable { case create, exec }
    var mode: Mode
    var id: String
    var spec: Spec
    var process: Process
    /// Create only: how to build the filesystem.
    var rootfs: RootfsPlan?
    /// Which fds travel with this message, in order.
    var hasConsoleSocket: Bool
    var hasExecFifo: Bool
    /// Exec only: the container's mount and user namespace fds follow; init joins them itself.
    var joinMountAndUser: Bool
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
