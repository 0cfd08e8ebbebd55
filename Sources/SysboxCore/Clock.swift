/// The clocks the programs read, in one place (clock_gettime(2)).
public enum Clock {
    /// CLOCK_MONOTONIC in seconds: for durations and deadlines.
    public static func monotonic() -> Double { seconds(CLOCK_MONOTONIC) }

    /// CLOCK_MONOTONIC in whole microseconds: for the trace of a trapped call.
    public static func monotonicMicros() -> Int {
        let ts = read(CLOCK_MONOTONIC)
        return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
    }

    /// CLOCK_REALTIME in seconds since the epoch.
    public static func realtime() -> Double { seconds(CLOCK_REALTIME) }

    /// CLOCK_BOOTTIME in whole seconds: the host's uptime, suspend included.
    public static func boottime() -> Int64 { Int64(read(CLOCK_BOOTTIME).tv_sec) }

    /// CLOCK_REALTIME as read, for a timestamp with nanoseconds.
    public static func realtimeSpec() -> timespec { read(CLOCK_REALTIME) }

    static func read(_ clock: clockid_t) -> timespec {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return ts
    }

    static func seconds(_ clock: clockid_t) -> Double {
        let ts = read(clock)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
