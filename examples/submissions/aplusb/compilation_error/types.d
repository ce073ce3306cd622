void main()
{
    int x = "three";
}
