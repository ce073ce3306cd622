-- Keeps every megabyte it fills: the heap limit (+RTS -M, the problem's limit) stops it.
import qualified Data.ByteString.Char8 as B

hoard :: [B.ByteString] -> Int -> IO ()
hoard kept i
  | i > 1000000 = print (sum (map B.length kept))
  | otherwise = let chunk = B.replicate (1024 * 1024) (toEnum (i `mod` 256)) in
      chunk `seq` hoard (chunk : kept) (i + 1)

main :: IO ()
main = hoard [] 0
