package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class JsonTest {
    @Test
    fun `objects keep their keys in document order`() {
        val doc = Json.parse("""{"b": 1, "a": {"d": [], "c": null}}""") as Map<*, *>
        assertEquals(listOf("b", "a"), doc.keys.toList())
        assertEquals(listOf("d", "c"), (doc["a"] as Map<*, *>).keys.toList())
    }

    @Test
    fun `whole numbers read as Long and others as Double`() {
        assertEquals(listOf(4L, -7L, 4.0, 0.5, 1.0E-5, 2.5E3), Json.parse("[4, -7, 4.0, 0.5, 1e-5, 2.5E+3]"))
    }

    @Test
    fun `string escapes decode, including surrogate pairs`() {
        assertEquals("a\"b\\c/d\b\u000C\n\r\té\uD83D\uDE00", Json.parse(""""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""""))
    }

    @Test
    fun `literals read as Boolean and null`() {
        assertEquals(listOf(true, false, null), Json.parse(" [ true , false , null ] "))
    }

    @Test
    fun `malformed documents are refused with their line and column`() {
        val bad = mapOf(
            "[1, 2,]" to "line 1 column 7",
            "{\n \"a\": 01}" to "line 2 column 8",
            "\"open" to "unterminated string",
            "[1] [2]" to "after the document",
            "{\"a\" 1}" to "expected ':'",
            "-" to "expected a digit",
            "[nul]" to "unexpected 'n'",
            "\"\\x\"" to "bad escape",
            "1e999" to "out of range"
        )
        for ((text, expected) in bad) {
            try {
                Json.parse(text)
                fail("parsed $text")
            } catch (e: JsonException) {
                assertTrue("${e.message} should mention $expected", e.message!!.contains(expected))
            }
        }
    }

    @Test
    fun `what is written reads back equal`() {
        val doc = Golden.document("result_ok.json")
        assertEquals(doc, Json.parse(Json.write(doc)))
    }

    @Test
    fun `writes one-space indentation like the Python side`() {
        assertEquals("{\n \"a\": [\n  1,\n  2.5\n ],\n \"b\": {},\n \"c\": []\n}\n", Json.write(linkedMapOf("a" to listOf(1L, 2.5), "b" to emptyMap<String, Any>(), "c" to emptyList<Any>())))
    }

    @Test
    fun `control characters are escaped when written`() {
        assertEquals("\"tab\\t nl\\n bell\\u0007 quote\\\" slash\\\\\"\n", Json.write("tab\t nl\n bell\u0007 quote\" slash\\"))
    }

    @Test(expected = IllegalArgumentException::class)
    fun `NaN cannot be written`() {
        Json.write(listOf(Double.NaN))
    }
}
