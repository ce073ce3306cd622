program undeclared;
begin
  writeln(x);
end.
