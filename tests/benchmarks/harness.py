"""One timing harness for the kernel-vs-twin benchmarks: compile, time, record a throughput."""


def time_kernel(benchmark, fn, args, *, group, unit, count, compile_with=None, rounds=3):
    """Time ``fn(*args)`` ``rounds`` times (one call each) in benchmark group ``group`` and record
    ``count / mean seconds`` as ``extra_info[unit]`` (e.g. rounds per second).

    ``compile_with``: (kernel, small args), called once first so that compilation is not timed.
    """
    if compile_with is not None:
        compile_with[0](*compile_with[1])
    benchmark.group = group
    benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1)
    benchmark.extra_info[unit] = count / benchmark.stats.stats.mean
