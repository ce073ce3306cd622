-module(main).
-export([main/0]).

main() -> no_such_function().
