IO.puts(1 +
