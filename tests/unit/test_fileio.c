#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/mem.h"

/* Each test gets a fresh directory, removed with everything in it after,
 * and the umask it started with back even if it failed half-way. */
struct tmpdir {
	char path[256];
	mode_t umask;
};

static int setup(void **state)
{
	struct tmpdir *t = mem_zalloc(sizeof(*t));
	const char *base = getenv("TMPDIR");

	if (!t)
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/pharos-test-fileio-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(t->path)) {
		mem_free(t);
		return -1;
	}
	t->umask = umask(022);
	umask(t->umask);
	*state = t;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct tmpdir *t = *state;
	int rc = nftw(t->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	umask(t->umask);
	mem_free(t);
	return rc;
}

static char *in_dir(void **state, char *out, const char *name)
{
	const struct tmpdir *t = *state;
	if (snprintf(out, PATH_MAX, "%s/%s", t->path, name) >= PATH_MAX)
		fail_msg("test path too long");
	return out;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void assert_file_holds(const char *path, const char *want)
{
	uint8_t *data;
	size_t len;

	assert_int_equal(fileio_read_all(path, 1 << 20, &data, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	mem_free(data);
}

static void a_written_file_reads_back_exactly_with_a_terminator(void **state)
{
	const uint8_t bin[] = { 'k', 0, 0xff, '\n', 'e', 'y' };
	char path[PATH_MAX];
	uint8_t *data;
	size_t len;

	in_dir(state, path, "blob");
	assert_int_equal(fileio_write_atomic(path, bin, sizeof(bin), 0644), 0);
	assert_int_equal(fileio_read_all(path, 100, &data, &len), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(data, bin, sizeof(bin));
	assert_int_equal(data[len], 0);
	mem_free_secret(data, len + 1);
}

static void an_existing_file_is_replaced_whole_and_no_temporary_is_left(void **state)
{
	const struct tmpdir *t = *state;
	char path[PATH_MAX];

	in_dir(state, path, "wg0.conf");
	assert_int_equal(fileio_write_atomic(path, "a much longer old content\n", 26, 0600), 0);
	assert_int_equal(fileio_write_atomic(path, "new\n", 4, 0600), 0);
	assert_file_holds(path, "new\n");
	assert_int_equal(count_entries(t->path), 1);
}

static void the_file_gets_exactly_the_requested_mode_whatever_the_umask(void **state)
{
	char path[PATH_MAX];
	struct stat st;
	mode_t old = umask(0);

	in_dir(state, path, "private.key");
	assert_int_equal(fileio_write_atomic(path, "k", 1, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	umask(077);
	in_dir(state, path, "public.key");
	assert_int_equal(fileio_write_atomic(path, "k", 1, 0644), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* Replacing a 0644 file with a secret narrows it. */
	assert_int_equal(fileio_write_atomic(path, "s", 1, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(old);
}

static void a_failed_rename_leaves_the_target_and_no_temporary(void **state)
{
	const struct tmpdir *t = *state;
	char path[PATH_MAX], inner[PATH_MAX];

	/* A non-empty directory where the file should go: rename must fail. */
	in_dir(state, path, "taken");
	in_dir(state, inner, "taken/keep");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(fileio_write_atomic(inner, "kept", 4, 0600), 0);
	assert_true(fileio_write_atomic(path, "x", 1, 0600) < 0);
	assert_file_holds(inner, "kept");
	assert_int_equal(count_entries(t->path), 1);
}

static void writing_into_a_missing_directory_is_enoent(void **state)
{
	char path[PATH_MAX];

	in_dir(state, path, "missing/file");
	assert_int_equal(fileio_write_atomic(path, "x", 1, 0600), -ENOENT);
}

static void paths_without_a_file_name_are_rejected(void **state)
{
	char path[PATH_MAX];

	assert_int_equal(fileio_write_atomic("", "x", 1, 0600), -EINVAL);
	assert_int_equal(fileio_write_atomic(in_dir(state, path, ""), "x", 1, 0600), -EINVAL);
	assert_int_equal(fileio_write_atomic(in_dir(state, path, "."), "x", 1, 0600), -EINVAL);
	assert_int_equal(fileio_write_atomic(in_dir(state, path, ".."), "x", 1, 0600), -EINVAL);
}

static void a_name_too_long_for_its_temporary_is_enametoolong(void **state)
{
	char name[NAME_MAX + 1], path[PATH_MAX];

	memset(name, 'n', NAME_MAX - 10);
	name[NAME_MAX - 10] = '\0';
	assert_int_equal(fileio_write_atomic(in_dir(state, path, name), "x", 1, 0600), -ENAMETOOLONG);
}

static void a_bare_file_name_is_written_in_the_working_directory(void **state)
{
	const struct tmpdir *t = *state;
	char cwd[PATH_MAX], path[PATH_MAX];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(t->path), 0);
	int rc = fileio_write_atomic("here", "data", 4, 0600);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_file_holds(in_dir(state, path, "here"), "data");
}

/* For use while allocations are being made to fail: reads with no heap. */
static void assert_file_holds_noalloc(const char *path, const char *want)
{
	char got[256];
	size_t len = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	while ((r = read(fd, got + len, sizeof(got) - len)) > 0)
		len += (size_t)r;
	close(fd);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
}

struct replace_ctx {
	const char *dir, *path;
};

static int replace_once(void *arg)
{
	const struct replace_ctx *c = arg;
	int rc = fileio_write_atomic(c->path, "new content", 11, 0600);

	if (rc < 0) {
		assert_file_holds_noalloc(c->path, "old content");
		assert_int_equal(count_entries(c->dir), 1);
	}
	return rc;
}

static void every_allocation_failure_leaves_the_old_file_untouched(void **state)
{
	const struct tmpdir *t = *state;
	char path[PATH_MAX];
	struct replace_ctx c = { t->path, in_dir(state, path, "state.json") };

	assert_int_equal(fileio_write_atomic(path, "old content", 11, 0600), 0);
	assert_true(support_alloc_failure_loop(replace_once, &c) >= 2);
	assert_file_holds(path, "new content");
	assert_int_equal(count_entries(t->path), 1);
}

static void reading_past_max_is_toobig_and_returns_nothing(void **state)
{
	char path[PATH_MAX], text[100];
	uint8_t *data = (uint8_t *)"sentinel";
	size_t len = 7;

	memset(text, 'x', sizeof(text));
	in_dir(state, path, "big");
	assert_int_equal(fileio_write_atomic(path, text, sizeof(text), 0600), 0);
	assert_int_equal(fileio_read_all(path, 99, &data, &len), ERR_TOOBIG);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(fileio_read_all(path, 100, &data, &len), 0);
	assert_int_equal(len, 100);
	mem_free(data);
}

static void an_empty_file_reads_as_an_empty_string(void **state)
{
	char path[PATH_MAX];
	uint8_t *data;
	size_t len;

	in_dir(state, path, "empty");
	assert_int_equal(fileio_write_atomic(path, "", 0, 0600), 0);
	assert_int_equal(fileio_read_all(path, 0, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal((char *)data, "");
	mem_free(data);
	assert_int_equal(fileio_read_all(path, 10, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal((char *)data, "");
	mem_free(data);
}

static void reading_a_missing_file_is_enoent(void **state)
{
	char path[PATH_MAX];
	uint8_t *data;
	size_t len;

	assert_int_equal(fileio_read_all(in_dir(state, path, "nope"), 10, &data, &len), -ENOENT);
	assert_null(data);
}

static void a_file_that_reports_no_size_is_read_to_its_end(void **state)
{
	uint8_t *data;
	size_t len;

	/* /proc files have st_size 0 but content; this one is kilobytes long. */
	assert_int_equal(fileio_read_all("/proc/self/maps", 1 << 24, &data, &len), 0);
	assert_true(len > 1000);
	assert_int_equal(strlen((char *)data), len);
	mem_free(data);
	assert_int_equal(fileio_read_all("/proc/self/maps", 100, &data, &len), ERR_TOOBIG);
	assert_null(data);
}

struct read_ctx {
	const char *path;
	size_t want;
};

static int read_once(void *arg)
{
	const struct read_ctx *c = arg;
	uint8_t *data;
	size_t len;
	int rc = fileio_read_all(c->path, 1 << 24, &data, &len);

	if (rc == 0) {
		if (c->want)
			assert_int_equal(len, c->want);
		mem_free_secret(data, len + 1);
	} else {
		assert_null(data);
	}
	return rc;
}

static void every_allocation_failure_while_reading_is_reported_and_leaks_nothing(void **state)
{
	char path[PATH_MAX], text[5000];
	struct read_ctx c = { in_dir(state, path, "five-k"), sizeof(text) };

	memset(text, 'y', sizeof(text));
	assert_int_equal(fileio_write_atomic(path, text, sizeof(text), 0600), 0);
	assert_int_equal(support_alloc_failure_loop(read_once, &c), 1);
	/* Growing through several blocks when the size is unknown. */
	c.path = "/proc/self/maps";
	c.want = 0;
	assert_true(support_alloc_failure_loop(read_once, &c) > 2);
}

static void mkdir_p_creates_every_missing_parent_with_the_mode(void **state)
{
	char path[PATH_MAX];
	struct stat st;
	mode_t old = umask(0);

	assert_int_equal(fileio_mkdir_p(in_dir(state, path, "a/b/c"), 0750), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(stat(in_dir(state, path, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
}

static void mkdir_p_accepts_existing_directories_and_extra_slashes(void **state)
{
	char path[PATH_MAX];
	struct stat st;

	assert_int_equal(fileio_mkdir_p(in_dir(state, path, "x//y///z/"), 0700), 0);
	assert_int_equal(fileio_mkdir_p(path, 0700), 0);
	assert_int_equal(stat(in_dir(state, path, "x/y/z"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fileio_mkdir_p("/", 0700), 0);
	assert_int_equal(fileio_mkdir_p("", 0700), -EINVAL);
}

static void mkdir_p_refuses_a_file_in_the_way(void **state)
{
	char path[PATH_MAX];

	assert_int_equal(fileio_write_atomic(in_dir(state, path, "f"), "x", 1, 0600), 0);
	assert_int_equal(fileio_mkdir_p(path, 0700), -ENOTDIR);
	assert_int_equal(fileio_mkdir_p(in_dir(state, path, "f/g"), 0700), -ENOTDIR);
}

static int mkdir_once(void *arg)
{
	return fileio_mkdir_p(arg, 0700);
}

static void mkdir_p_reports_allocation_failure(void **state)
{
	char path[PATH_MAX];
	struct stat st;

	assert_int_equal(support_alloc_failure_loop(mkdir_once, in_dir(state, path, "p/q")), 1);
	assert_int_equal(stat(path, &st), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(a_written_file_reads_back_exactly_with_a_terminator),
		T(an_existing_file_is_replaced_whole_and_no_temporary_is_left),
		T(the_file_gets_exactly_the_requested_mode_whatever_the_umask),
		T(a_failed_rename_leaves_the_target_and_no_temporary),
		T(writing_into_a_missing_directory_is_enoent),
		T(paths_without_a_file_name_are_rejected),
		T(a_name_too_long_for_its_temporary_is_enametoolong),
		T(a_bare_file_name_is_written_in_the_working_directory),
		T(every_allocation_failure_leaves_the_old_file_untouched),
		T(reading_past_max_is_toobig_and_returns_nothing),
		T(an_empty_file_reads_as_an_empty_string),
		T(reading_a_missing_file_is_enoent),
		T(a_file_that_reports_no_size_is_read_to_its_end),
		T(every_allocation_failure_while_reading_is_reported_and_leaks_nothing),
		T(mkdir_p_creates_every_missing_parent_with_the_mode),
		T(mkdir_p_accepts_existing_directories_and_extra_slashes),
		T(mkdir_p_refuses_a_file_in_the_way),
		T(mkdir_p_reports_allocation_failure),
	};
	return run_group(tests);
}
