<?php
// PHP SoapClient, without WSDL (rpc/encoded, associative arrays go out as Apache Map) and
// with the rpc/encoded WSDL, through login, addressbook listing, create, read, delete,
// logout against a running groupware server started with --demo.
// Usage: php php_client.php BASE_URL. Exits non-zero naming what failed.

$base = rtrim($argv[1], '/');

function check($condition, $what) {
    if (!$condition) {
        fwrite(STDERR, "FAILED: $what\n");
        exit(1);
    }
}

function run($mode, $make) {
    $anonymous = $make([]);
    $s = $anonymous->__soapCall('system_login',
        [new SoapParam(['username' => 'demo', 'password' => 'guest'], 'params')]);
    check($s->sessionid && $s->kp3, "$mode: login returned tokens");
    echo "$mode login: ", $s->domain, "\n";
    $api = $make(['login' => $s->sessionid, 'password' => $s->kp3]);

    // Without WSDL the dotted name works as an element name; a WSDL has the underscore one.
    $listing = $mode === 'wsdl' ? 'addressbook_boaddressbook_read_entries' : 'addressbook.boaddressbook.read_entries';
    $rows = $api->__soapCall($listing,
        [new SoapParam(['start' => 0, 'limit' => 10, 'query' => ''], 'params')]);
    $names = array_map(fn($e) => $e->n_given, $rows);
    echo "$mode listing: ", implode(' ', $names), "\n";
    check(in_array('Ada', $names), "$mode: listing has Ada");

    $id = $api->__soapCall('addressbook_boaddressbook_add',
        [new SoapParam(['n_given' => 'Zoë', 'n_family' => "PHP $mode"], 'params')]);
    echo "$mode created: $id\n";
    check($id > 0, "$mode: add returned an id");

    $e = $api->__soapCall('addressbook_boaddressbook_read', [new SoapParam(['id' => $id], 'params')]);
    echo "$mode read: $e->n_given $e->n_family\n";
    check($e->n_given === 'Zoë', "$mode: read back the UTF-8 name");

    check($api->__soapCall('addressbook_boaddressbook_delete', [new SoapParam((string)$id, 'id')]) === true,
        "$mode: delete returned true");
    try {
        $api->__soapCall('addressbook_boaddressbook_read', [new SoapParam(['id' => $id], 'params')]);
        check(false, "$mode: a deleted contact can still be read");
    } catch (SoapFault $f) {
        echo "$mode deleted: $f->faultcode $f->faultstring\n";
        check($f->faultcode === 'SOAP-ENV:Client', "$mode: Client fault");
        check($f->detail->faultCode == 1004, "$mode: detail carries 1004");
    }
    $bye = $api->__soapCall('system_logout',
        [new SoapParam(['sessionid' => $s->sessionid, 'kp3' => $s->kp3], 'params')]);
    echo "$mode logout: $bye->GOODBYE\n";
    check($bye->GOODBYE === 'XOXO', "$mode: logout said XOXO");
}

$options = ['trace' => 1, 'exceptions' => true, 'cache_wsdl' => WSDL_CACHE_NONE, 'encoding' => 'UTF-8'];
run('no-wsdl', fn($auth) => new SoapClient(null,
    $options + $auth + ['location' => "$base/soap", 'uri' => 'urn:egw']));

// WSDL mode: the caller's own WSDL needs the credentials on the WSDL request too.
run('wsdl', function ($auth) use ($base, $options) {
    $context = [];
    if ($auth) {
        $header = 'Authorization: Basic ' . base64_encode($auth['login'] . ':' . $auth['password']);
        $context = ['stream_context' => stream_context_create(['http' => ['header' => $header]])];
    }
    return new SoapClient("$base/soap?wsdl=rpc", $options + $auth + $context);
});
echo "php: OK\n";
