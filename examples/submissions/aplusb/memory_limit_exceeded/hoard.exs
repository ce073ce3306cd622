# Tuples of 16 M words (the largest the VM makes), allocated one at a time: the process's heap
# limit (+hmax) stops it at the second or third, after a fraction of a second, however slow the
# machine. (A list built cell by cell ran into the wall-clock limit first on a loaded machine.)
ts = for _ <- 1..10, do: :erlang.make_tuple(16_000_000, 0)
IO.puts(length(ts))
