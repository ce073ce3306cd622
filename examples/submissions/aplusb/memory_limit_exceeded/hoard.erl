%% A list far larger than the limit: the process's heap limit (+hmax) stops it.
-module(main).
-export([main/0]).

main() ->
    L = lists:seq(1, 100000000),
    io:format("~p~n", [length(L)]).
