read -r a b
if then echo $((a + b)); fi
