let () = print_int "three"
