/* test_core.c — status names, error buffers, byte buffer, UTF-8, SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "core/lore.h"

static void test_strerror(void **s)
{
    assert_string_equal(lore_strerror(LORE_OK), "ok");
    assert_string_equal(lore_strerror(LORE_EBUSY), "busy: locked by another process");
    assert_string_equal(lore_strerror(-9999), "unknown error");
    for (int st = 0; st >= LORE_EINTERNAL; st--)
        assert_string_not_equal(lore_strerror(st), "unknown error");
}

static void test_err(void **s)
{
    struct lore_err e;
    assert_int_equal(lore_err_set(&e, LORE_EIO, "cannot open '%s'", "x.pdf"), LORE_EIO);
    assert_int_equal(e.status, LORE_EIO);
    assert_string_equal(e.msg, "cannot open 'x.pdf'");
    lore_err_prefix(&e, "ingest %d", 3);
    assert_string_equal(e.msg, "ingest 3: cannot open 'x.pdf'");
    /* long messages are truncated, never overflow */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    lore_err_set(&e, LORE_EINVAL, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    lore_err_prefix(&e, "%s", big);
    assert_true(strlen(e.msg) < sizeof e.msg);
    assert_int_equal(lore_err_set(NULL, LORE_ENOMEM, "x"), LORE_ENOMEM);
}

static void test_buf_json(void **s)
{
    struct lore_buf b;
    lore_buf_init(&b);
    const char in[] = "a\"b\\c\n\x01\xc3\xa9\xff";
    assert_int_equal(lore_buf_json_str(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd\"");
    b.len = 0;
    for (int i = 0; i < 1000; i++)
        lore_buf_printf(&b, "%d,", i);
    assert_true(b.len > 3000);
    assert_int_equal(strncmp(b.data + b.len - 4, "999,", 4), 0);
    lore_buf_release(&b);
}

static void test_utf8(void **s)
{
    assert_int_equal(lore_utf8_check("h\xc3\xa9llo", 6), 6);
    assert_int_equal(lore_utf8_check("ab\xc0\xaf", 4), 2);        /* overlong */
    assert_int_equal(lore_utf8_check("\xed\xa0\x80", 3), 0);      /* surrogate */
    assert_int_equal(lore_utf8_check("\xf4\x90\x80\x80", 4), 0);  /* > U+10FFFF */
    assert_int_equal(lore_utf8_check("\xe2\x82", 2), 0);          /* truncated */
    assert_int_equal(lore_utf8_len("h\xc3\xa9\xe4\xb8\xad", 6), 3);
    char o[4];
    uint32_t cp;
    for (uint32_t c = 1; c < 0x110000; c += 97) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        int n = lore_utf8_encode(c, o);
        assert_int_equal(lore_utf8_decode(o, (size_t)n, &cp), n);
        assert_int_equal(cp, c);
    }
}

static void test_sha256(void **s)
{
    char h[65];
    lore_sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    lore_sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    lore_sha256_hex(m, strlen(m), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror), cmocka_unit_test(test_err),
        cmocka_unit_test(test_buf_json), cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
