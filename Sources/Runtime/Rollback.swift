/// Undo steps collected while a command makes changes; run in reverse when it fails, so that a
/// failed create leaves nothing behind (runtime.md: "as if the operation had not been attempted").
final class Rollback {
    private var steps: [(String, () -> Void)] = []
    private(set) var committed = false

    func add(_ what: String, _ undo: @escaping () -> Void) { steps.append((what, undo)) }
    func commit() { committed = true; steps.removeAll() }

    func run() {
        guard !committed else { return }
        for (_, undo) in steps.reversed() { undo() }
        steps.removeAll()
    }
}
