/* being written: placeholder so the build is wired */
int main(void)
{
	return 0;
}
