-- Keeps an ever-growing list alive: the heap limit (+RTS -M, the problem's limit) stops it.
main :: IO ()
main = do
  let xs = [1 ..] :: [Integer]
  print (length xs + fromIntegral (sum xs))
