program undeclared
  implicit none
  print *, x
end program undeclared
