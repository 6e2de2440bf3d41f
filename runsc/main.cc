// TODO(#3): the CLI.
int main() { return 0; }
