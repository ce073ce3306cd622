# A list far larger than the limit: the process's heap limit (+hmax) stops it.
l = Enum.to_list(1..100_000_000)
IO.puts(length(l))
