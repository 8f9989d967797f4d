#!/usr/bin/perl
# SOAP::Lite (rpc/encoded, no WSDL) through login, addressbook listing, create, read,
# delete, logout against a running groupware server started with --demo.
# Usage: soaplite_client.pl BASE_URL. Dies naming what failed.
use strict;
use warnings;
use SOAP::Lite;
use MIME::Base64;

my $base = shift or die "usage: $0 BASE_URL\n";
$base =~ s{/$}{};
my $soap = SOAP::Lite->proxy("$base/soap")->uri('urn:egw');

my $som = $soap->call('system_login',
    SOAP::Data->name(params => { username => 'demo', password => 'guest' }));
die 'login: ' . $som->faultstring if $som->fault;
my $s = $som->result;
print "login: $s->{domain}\n";
die "no tokens\n" unless $s->{sessionid} && $s->{kp3};

$soap->transport->http_request->header(
    Authorization => 'Basic ' . encode_base64("$s->{sessionid}:$s->{kp3}", ''));

$som = $soap->call('addressbook.boaddressbook.read_entries',
    SOAP::Data->name(params => { start => SOAP::Data->type(int => 0), limit => 10, query => '' }));
die 'listing: ' . $som->faultstring if $som->fault;
my @names = map { $_->{n_given} } @{ $som->result };
print "listing: @names\n";
die "Ada missing\n" unless grep { $_ eq 'Ada' } @names;

$som = $soap->call('addressbook_boaddressbook_add',
    SOAP::Data->name(params => { n_given => 'Lite', n_family => 'Perl' }));
die 'create: ' . $som->faultstring if $som->fault;
my $id = $som->result;
print "created: $id\n";
die "bad id\n" unless $id > 0;

$som = $soap->call('addressbook_boaddressbook_read', SOAP::Data->name(params => { id => $id }));
die 'read: ' . $som->faultstring if $som->fault;
print "read: ", $som->result->{n_given}, "\n";
die "wrong record\n" unless $som->result->{n_given} eq 'Lite';

$som = $soap->call('addressbook_boaddressbook_delete', SOAP::Data->name(id => "$id"));
die 'delete: ' . $som->faultstring if $som->fault;
die "delete returned false\n" unless $som->result;

$som = $soap->call('addressbook_boaddressbook_read', SOAP::Data->name(params => { id => $id }));
die "deleted contact still readable\n" unless $som->fault;
print 'deleted: ', $som->faultstring, "\n";

$som = $soap->call('system_logout',
    SOAP::Data->name(params => { sessionid => $s->{sessionid}, kp3 => $s->{kp3} }));
die 'logout: ' . $som->faultstring if $som->fault;
print "logout: ", $som->result->{GOODBYE}, "\n";
die "no XOXO\n" unless $som->result->{GOODBYE} eq 'XOXO';

$som = $soap->call('no_such_method');
die "unknown method accepted\n" unless $som->fault;
print 'fault: ', $som->faultcode, ' ', $som->faultstring, "\n";
print "soaplite: OK\n";
