package io.adevents.flink;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.util.jackson.JacksonMapperFactory;

/** One streaming (Jackson) pass per record; see {@link EventJsonFormatFactory}. */
final class EventJsonDeserializationSchema implements DeserializationSchema<RowData> {

    private static final long serialVersionUID = 1L;

    // The job's `parsing` dead letters carried these messages before this format existed.
    static final String NO_VALUE = "record has no value";
    static final String NOT_UTF8 = "record value is not valid UTF-8";
    static final String NOT_OBJECT = "record value is not a JSON object";

    private final String[] fieldNames;
    private final int payloadIndex;
    private final int errorIndex;
    private final TypeInformation<RowData> producedType;

    private transient ObjectMapper mapper;
    private transient JsonFactory factory;
    private transient Map<String, Integer> propertyIndex;
    private transient CharsetDecoder utf8;

    EventJsonDeserializationSchema(
            String[] fieldNames,
            String payloadColumn,
            String errorColumn,
            TypeInformation<RowData> producedType) {
        this.fieldNames = fieldNames;
        int payload = -1;
        int error = -1;
        for (int i = 0; i < fieldNames.length; i++) {
            if (fieldNames[i].equals(payloadColumn)) {
                payload = i;
            } else if (fieldNames[i].equals(errorColumn)) {
                error = i;
            }
        }
        this.payloadIndex = payload;
        this.errorIndex = error;
        this.producedType = producedType;
    }

    @Override
    public void open(InitializationContext context) {
        init();
    }

    private void init() {
        // The same mapper settings as Flink's json format, so values read the same.
        mapper = JacksonMapperFactory.createObjectMapper();
        factory = mapper.getFactory();
        propertyIndex = new HashMap<>();
        for (int i = 0; i < fieldNames.length; i++) {
            if (i != payloadIndex && i != errorIndex) {
                propertyIndex.put(fieldNames[i], i);
            }
        }
        utf8 =
                StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    @Override
    public RowData deserialize(byte[] message) {
        if (factory == null) {
            init();
        }
        GenericRowData row = new GenericRowData(fieldNames.length);
        String error;
        if (message == null) {
            error = NO_VALUE;
        } else {
            if (payloadIndex >= 0) {
                row.setField(payloadIndex, message);
            }
            error = validUtf8(message) ? parse(message, row) : NOT_UTF8;
        }
        if (error != null) {
            for (int i = 0; i < fieldNames.length; i++) {
                if (i != payloadIndex) {
                    row.setField(i, null);
                }
            }
            if (errorIndex >= 0) {
                row.setField(errorIndex, StringData.fromString(error));
            }
        }
        return row;
    }

    /**
     * Strict UTF-8 (what a DECODE/ENCODE round trip checks), decided on the first pass's bytes: the
     * scan stops at once for ASCII, which the producer's records are.
     */
    private boolean validUtf8(byte[] message) {
        for (byte b : message) {
            if (b < 0) {
                try {
                    utf8.reset().decode(ByteBuffer.wrap(message));
                    return true;
                } catch (CharacterCodingException e) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Fills the properties it knows; returns null, or why the value is not one JSON object. */
    private String parse(byte[] message, GenericRowData row) {
        try (JsonParser parser = factory.createParser(message)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return NOT_OBJECT;
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                Integer index = propertyIndex.get(parser.currentName());
                JsonToken token = parser.nextToken();
                if (index == null) {
                    parser.skipChildren();
                } else {
                    row.setField(index, text(parser, token));
                }
            }
            // Trailing content would make the record something other than one JSON object.
            return parser.nextToken() == null ? null : NOT_OBJECT;
        } catch (IOException e) {
            return NOT_OBJECT;
        }
    }

    /** A STRING column's value as Flink's json format reads it (JsonParserToRowDataConverters). */
    private StringData text(JsonParser parser, JsonToken token) throws IOException {
        if (token == JsonToken.VALUE_NULL) {
            return null;
        }
        if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
            return StringData.fromString(parser.readValueAsTree().toString());
        }
        return ascii(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
    }

    /**
     * The value as Flink's UTF-8 string: ASCII text (all of the producer's values) is copied byte
     * for byte, which saves Flink a UTF-16 to UTF-8 encoding per value; anything else is encoded.
     */
    private static StringData ascii(char[] chars, int offset, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            char c = chars[offset + i];
            if (c >= 0x80) {
                return StringData.fromString(new String(chars, offset, length));
            }
            bytes[i] = (byte) c;
        }
        return StringData.fromBytes(bytes);
    }

    @Override
    public boolean isEndOfStream(RowData nextElement) {
        return false;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }
}
