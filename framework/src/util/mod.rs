//! Small helpers every layer uses: a poison-tolerant lock and a panic guard.
