package org.autovit.bench.core

/**
 * A small, strict JSON (RFC 8259) reader and writer.
 *
 * The core runs on the plain JVM in CI as well as on the phone, and Android's `org.json` exists
 * only on the phone; the contract's documents are small, so a dependency-free reader is the
 * simplest thing that behaves the same in both places.
 *
 * Values map to Kotlin types: objects to `Map<String, Any?>` in document order, arrays to
 * `List<Any?>`, numbers without a fraction or exponent to `Long` (others to `Double`), strings,
 * booleans and `null`.
 */
object Json {
    fun parse(text: String): Any? = Parser(text).document()

    /** Indented by one space per level, as the Python side's `json.dump(doc, f, indent=1)` writes. */
    fun write(value: Any?): String {
        val out = StringBuilder()
        Writer(out).value(value, 0)
        return out.append('\n').toString()
    }
}

class JsonException(message: String) : Exception(message)

private class Parser(private val text: String) {
    private var pos = 0

    fun document(): Any? {
        skipWhitespace()
        val value = value()
        skipWhitespace()
        if (pos < text.length) fail("unexpected '${text[pos]}' after the document")
        return value
    }

    private fun value(): Any? {
        if (pos >= text.length) fail("unexpected end of input")
        return when (val c = text[pos]) {
            '{' -> obj()
            '[' -> array()
            '"' -> string()
            't' -> literal("true", true)
            'f' -> literal("false", false)
            'n' -> literal("null", null)
            else -> if (c == '-' || c in '0'..'9') number() else fail("unexpected '$c'")
        }
    }

    private fun obj(): Map<String, Any?> {
        pos++
        val map = LinkedHashMap<String, Any?>()
        skipWhitespace()
        if (at('}')) {
            pos++
            return map
        }
        while (true) {
            skipWhitespace()
            if (!at('"')) fail("expected a string key")
            val key = string()
            skipWhitespace()
            expect(':')
            skipWhitespace()
            map[key] = value()
            skipWhitespace()
            if (!at(',')) break
            pos++
        }
        expect('}')
        return map
    }

    private fun array(): List<Any?> {
        pos++
        val list = ArrayList<Any?>()
        skipWhitespace()
        if (at(']')) {
            pos++
            return list
        }
        while (true) {
            skipWhitespace()
            list.add(value())
            skipWhitespace()
            if (!at(',')) break
            pos++
        }
        expect(']')
        return list
    }

    private fun string(): String {
        pos++
        val out = StringBuilder()
        while (true) {
            if (pos >= text.length) fail("unterminated string")
            val c = text[pos]
            when {
                c == '"' -> {
                    pos++
                    return out.toString()
                }
                c == '\\' -> {
                    pos++
                    out.append(escape())
                }
                c < ' ' -> fail("control character in a string")
                else -> {
                    out.append(c)
                    pos++
                }
            }
        }
    }

    private fun escape(): Char {
        if (pos >= text.length) fail("unterminated string")
        val c = text[pos++]
        return when (c) {
            '"' -> '"'
            '\\' -> '\\'
            '/' -> '/'
            'b' -> '\b'
            'f' -> '\u000C'
            'n' -> '\n'
            'r' -> '\r'
            't' -> '\t'
            'u' -> {
                val hex = if (pos + 4 <= text.length) text.substring(pos, pos + 4) else ""
                if (hex.length != 4 || !hex.all { it in '0'..'9' || it in 'a'..'f' || it in 'A'..'F' }) fail("bad \\u escape")
                pos += 4
                hex.toInt(16).toChar()
            }
            else -> fail("bad escape '\\$c'")
        }
    }

    private fun number(): Any {
        val start = pos
        if (at('-')) pos++
        if (at('0')) pos++ else digits()
        var integral = true
        if (at('.')) {
            pos++
            digits()
            integral = false
        }
        if (at('e') || at('E')) {
            pos++
            if (at('+') || at('-')) pos++
            digits()
            integral = false
        }
        val token = text.substring(start, pos)
        val long = if (integral) token.toLongOrNull() else null
        if (long != null) return long
        val double = token.toDouble()
        if (double.isInfinite()) fail("number $token is out of range")
        return double
    }

    private fun digits() {
        val start = pos
        while (pos < text.length && text[pos] in '0'..'9') pos++
        if (pos == start) fail("expected a digit")
    }

    private fun literal(word: String, value: Any?): Any? {
        if (!text.startsWith(word, pos)) fail("unexpected '${text[pos]}'")
        pos += word.length
        return value
    }

    private fun expect(c: Char) {
        if (!at(c)) fail(if (pos < text.length) "expected '$c' but found '${text[pos]}'" else "expected '$c' but the input ended")
        pos++
    }

    private fun at(c: Char): Boolean = pos < text.length && text[pos] == c

    private fun skipWhitespace() {
        while (pos < text.length && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) pos++
    }

    private fun fail(message: String): Nothing {
        val before = text.substring(0, minOf(pos, text.length))
        val line = before.count { it == '\n' } + 1
        val column = before.length - before.lastIndexOf('\n')
        throw JsonException("$message at line $line column $column")
    }
}

private class Writer(private val out: StringBuilder) {
    fun value(value: Any?, depth: Int) {
        when (value) {
            null -> out.append("null")
            is String -> string(value)
            is Boolean, is Int, is Long -> out.append(value)
            is Double -> {
                require(!value.isNaN() && !value.isInfinite()) { "JSON has no $value" }
                out.append(value)
            }
            is Map<*, *> -> obj(value, depth)
            is List<*> -> array(value, depth)
            else -> throw IllegalArgumentException("cannot write a ${value.javaClass.name} as JSON")
        }
    }

    private fun obj(map: Map<*, *>, depth: Int) {
        if (map.isEmpty()) {
            out.append("{}")
            return
        }
        out.append('{')
        var first = true
        for ((key, item) in map) {
            require(key is String) { "JSON object keys must be strings, not $key" }
            out.append(if (first) "\n" else ",\n")
            first = false
            indent(depth + 1)
            string(key)
            out.append(": ")
            value(item, depth + 1)
        }
        out.append('\n')
        indent(depth)
        out.append('}')
    }

    private fun array(list: List<*>, depth: Int) {
        if (list.isEmpty()) {
            out.append("[]")
            return
        }
        out.append('[')
        list.forEachIndexed { i, item ->
            out.append(if (i == 0) "\n" else ",\n")
            indent(depth + 1)
            value(item, depth + 1)
        }
        out.append('\n')
        indent(depth)
        out.append(']')
    }

    private fun string(s: String) {
        out.append('"')
        for (c in s) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c < ' ' -> out.append("\\u%04x".format(c - '\u0000'))
                else -> out.append(c)
            }
        }
        out.append('"')
    }

    private fun indent(depth: Int) {
        repeat(depth) { out.append(' ') }
    }
}
